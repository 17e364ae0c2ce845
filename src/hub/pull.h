// `pull`: a model from a hub into the cache — list the repository, choose the files the tag names, check
// the disk, download them in parallel (resumed, retried, verified), record them in the manifest.
#pragma once
#include <cstdint>
#include <string>

#include "hub/download.h"
#include "hub/model_ref.h"

namespace qs::hub {

struct PullOptions {
  int parallel = 4;  // files downloaded at once
  DownloadPolicy policy;
  bool progress_tty = false;  // redraw a bar (stderr is a terminal) or print lines
};

struct PullResult {
  std::string path;         // absolute path of the model's (first) file
  std::string tag;          // the model's label
  uint64_t bytes = 0;       // the model's size
  uint64_t downloaded = 0;  // bytes transferred by this pull
};

// Throws DownloadError / std::runtime_error with the reason.
PullResult pull_model(const ModelRef& ref, const PullOptions& o);

}  // namespace qs::hub
