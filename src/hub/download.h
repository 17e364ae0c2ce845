// One file from a hub onto disk: written to NAME.part and renamed when complete and verified, resumed
// with a Range request from the bytes already there (after a dropped connection, a stall or an
// interrupted run), retried with backoff, checked against the hub's SHA-256.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "hub/http_client.h"
#include "util/progress.h"

namespace qs::hub {

// A download that retrying will not fix (authorization, missing file, persistent corruption).
struct DownloadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DownloadJob {
  std::string url;
  std::string dest;    // final path; NAME.part while incomplete
  std::string label;   // the repository path, for messages
  uint64_t size = 0;   // from the listing
  std::string sha256;  // from the listing ("" = take the X-Linked-Etag / ETag of the reply, else size only)
};

struct DownloadPolicy {
  RequestOptions request;
  int max_attempts = 8;       // tries in a row without progress before giving up
  double backoff_s = 1.0;     // first wait; doubles up to max_backoff_s
  double max_backoff_s = 60;  // also caps Retry-After
};

// Downloads `job` (unless its file is already complete); returns the file's SHA-256. Throws DownloadError.
std::string download_file(HttpClient& http, const DownloadJob& job, const DownloadPolicy& policy, Progress& progress);

// The message for a hub's 401/403 reply.
std::string auth_hint(long status, const std::string& what);

}  // namespace qs::hub
