// Fuzzes what `pull` takes from a model hub and from the user: arbitrary bytes as a Hugging Face tree
// listing and a ModelScope file listing (JSON, paths that must stay inside the cache), the listed paths
// through the tag matcher, and the bytes as a model reference. DownloadError / runtime_error are the
// expected failures; a crash, a sanitizer report, a path that escapes the cache or any other exception is
// a finding.
#include <cstdint>
#include <string>
#include <vector>

#include "hub/hub_api.h"
#include "hub/model_cache.h"
#include "hub/model_ref.h"
#include "hub/tag_match.h"

static void check_listing(const std::vector<qs::hub::RemoteFile>& files, const std::string& tag) {
  std::vector<std::string> paths;
  for (const auto& f : files) {
    if (!qs::hub::safe_repo_path(f.path)) __builtin_trap();  // the parser must have refused it
    paths.push_back(f.path);
  }
  try {
    const auto m = qs::hub::choose_model(paths, tag, "o/r");
    if (m.files.empty()) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 18)) return 0;
  const std::string s(reinterpret_cast<const char*>(data), size);
  const std::string tag = s.substr(0, std::min<size_t>(s.size(), 8));
  try {
    check_listing(qs::hub::parse_hf_tree(s), tag);
  } catch (const qs::hub::DownloadError&) {
  }
  try {
    check_listing(qs::hub::parse_modelscope_files(s), "");
  } catch (const qs::hub::DownloadError&) {
  }
  if (const auto ref = qs::hub::parse_model_ref(s)) {
    // owner/name, each a single safe path component (it names cache folders).
    const size_t slash = ref->repo.find('/');
    if (slash == std::string::npos || !qs::hub::safe_repo_path(ref->repo) || ref->repo.find('/', slash + 1) != std::string::npos)
      __builtin_trap();
    (void)ref->str();
  }
  (void)qs::hub::tag_matches(s, tag);
  return 0;
}
