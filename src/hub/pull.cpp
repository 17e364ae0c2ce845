#include "hub/pull.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>

#include "hub/hub_api.h"
#include "hub/model_cache.h"
#include "hub/sha256.h"
#include "hub/tag_match.h"

namespace qs::hub {

namespace fs = std::filesystem;

namespace {

uint64_t size_or_zero(const fs::path& p) {
  std::error_code ec;
  const uint64_t n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// Bytes free for an unprivileged writer where `dir` is (or would be) created.
uint64_t free_bytes(fs::path dir) {
  while (!dir.empty() && !fs::exists(dir)) dir = dir.parent_path();
  struct statvfs s{};
  if (dir.empty() || statvfs(dir.c_str(), &s) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

}  // namespace

PullResult pull_model(const ModelRef& ref, const PullOptions& o) {
  const HubEndpoint ep = hub_endpoint(ref.source);
  DownloadPolicy policy = o.policy;
  policy.request.headers.insert(policy.request.headers.end(), ep.headers.begin(), ep.headers.end());
  HttpClient http;
  const std::vector<RemoteFile> listing = list_repo_files(http, ep, ref, policy);
  std::vector<std::string> paths;
  for (const auto& f : listing) paths.push_back(f.path);
  const RepoModel model = choose_model(paths, ref.tag, ref.repo);

  const std::string dir = repo_cache_dir(ref);
  Manifest m = read_manifest(dir).value_or(Manifest{source_name(ref.source), ref.repo, ref.revision_or_default(), {}, {}, ""});
  auto recorded = [&](const std::string& path) -> ManifestFile* {
    for (auto& f : m.files)
      if (f.path == path) return &f;
    return nullptr;
  };

  // What is already here (complete and matching the listing) is not fetched again.
  struct Job {
    RemoteFile remote;
    uint64_t have = 0;
  };
  std::vector<Job> jobs;
  PullResult result;
  result.tag = model.tag;
  uint64_t on_disk = 0, needed = 0;
  for (const auto& path : model.files) {
    const RemoteFile& rf = *std::find_if(listing.begin(), listing.end(), [&](const RemoteFile& f) { return f.path == path; });
    result.bytes += rf.size;
    const ManifestFile* mf = recorded(path);
    const fs::path local = fs::path(dir) / path;
    if (mf && mf->size == rf.size && size_or_zero(local) == rf.size && (rf.sha256.empty() || rf.sha256 == mf->sha256)) {
      on_disk += rf.size;
      continue;
    }
    // A complete file the manifest does not record (a pull stopped just before writing it): kept when
    // its hash matches.
    if (!mf && !rf.sha256.empty() && size_or_zero(local) == rf.size) {
      Sha256 h;
      hash_file_prefix(local.string(), rf.size, h);
      if (h.hex() == rf.sha256) {
        m.files.push_back({path, rf.size, rf.sha256});
        on_disk += rf.size;
        continue;
      }
    }
    std::error_code ec;
    fs::remove(local, ec);  // stale (another revision of the file, or never verified)
    const uint64_t part = std::min(size_or_zero(local.string() + ".part"), rf.size);
    on_disk += part;
    needed += rf.size - part;
    jobs.push_back({rf, part});
  }
  if (needed > 0) {
    const uint64_t avail = free_bytes(dir);
    if (avail < needed + (uint64_t{64} << 20))
      throw std::runtime_error("pulling " + ref.str() + " needs " + human_bytes(static_cast<double>(needed)) + " more, but only " +
                               human_bytes(static_cast<double>(avail)) + " is free at " + models_root() +
                               " (set QIUSUO_MODELS to use another disk)");
  }

  if (!jobs.empty()) {
    Progress progress("pull", result.bytes, on_disk, o.progress_tty);
    std::mutex mu;
    size_t next = 0;
    std::string first_error;
    auto worker = [&] {
      HttpClient client;
      for (;;) {
        Job job;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (next == jobs.size() || !first_error.empty()) return;
          job = jobs[next++];
        }
        try {
          const DownloadJob dj{file_url(ep, ref, job.remote.path), (fs::path(dir) / job.remote.path).string(), job.remote.path,
                               job.remote.size, job.remote.sha256};
          const std::string sha = download_file(client, dj, policy, progress);
          std::lock_guard<std::mutex> lock(mu);
          result.downloaded += job.remote.size - job.have;
          if (ManifestFile* f = recorded(job.remote.path)) *f = {job.remote.path, job.remote.size, sha};
          else m.files.push_back({job.remote.path, job.remote.size, sha});
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.empty()) first_error = e.what();
        }
      }
    };
    std::vector<std::thread> threads;
    const size_t n = std::min<size_t>(jobs.size(), static_cast<size_t>(std::max(1, o.parallel)));
    for (size_t i = 0; i < n; ++i) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    progress.finish();
    if (!first_error.empty()) {
      write_manifest(dir, m);  // keep what did arrive
      throw DownloadError(first_error);
    }
  }
  m.tags[model.tag] = model.files;
  if (!ref.tag.empty()) m.tags[ref.tag] = model.files;
  else m.default_tag = model.tag;
  if (m.default_tag.empty() && m.tags.size() == 1) m.default_tag = model.tag;
  write_manifest(dir, m);
  result.path = fs::absolute(fs::path(dir) / model.files[0]).string();
  return result;
}

}  // namespace qs::hub
