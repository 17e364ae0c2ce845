#include "hub/download.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "hub/sha256.h"

namespace qs::hub {

namespace fs = std::filesystem;

namespace {

// A hub's ETag for an LFS file is its SHA-256 in quotes (possibly weak: W/"...").
std::string sha_from_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e.erase(0, 2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  if (e.size() != 64) return "";
  for (char& c : e) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  }
  return e;
}

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(s * 1000))); }

}  // namespace

std::string auth_hint(long status, const std::string& what) {
  return what + ": the hub answered " + std::to_string(status) +
         " (a gated or private repository: accept its license on the model page and set HF_TOKEN, "
         "or log in with `huggingface-cli login`)";
}

std::string download_file(HttpClient& http, const DownloadJob& job, const DownloadPolicy& policy, Progress& progress) {
  const std::string part = job.dest + ".part";
  std::error_code ec;
  fs::create_directories(fs::path(job.dest).parent_path(), ec);
  if (ec) throw DownloadError("cannot create " + fs::path(job.dest).parent_path().string() + ": " + ec.message());

  Sha256 hash;
  uint64_t have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
  if (ec || have > job.size) {  // not ours to continue
    fs::remove(part, ec);
    have = 0;
  }
  if (have > 0) hash_file_prefix(part, have, hash);
  FILE* f = std::fopen(part.c_str(), have > 0 ? "ab" : "wb");
  if (!f) throw DownloadError("cannot write " + part + ": " + std::strerror(errno));
  struct Closer {
    FILE*& f;
    ~Closer() {
      if (f) std::fclose(f);
    }
  } closer{f};

  std::string expected = job.sha256;
  int failures = 0, corrupt = 0;
  double backoff = policy.backoff_s;
  auto start_over = [&] {
    progress.rewind(have);
    if (ftruncate(fileno(f), 0) != 0 || std::fseek(f, 0, SEEK_SET) != 0)
      throw DownloadError("cannot truncate " + part + ": " + std::strerror(errno));
    hash.reset();
    have = 0;
  };
  for (;;) {
    if (have == job.size) {
      if (std::fflush(f) != 0) throw DownloadError("cannot write " + part + ": " + std::strerror(errno));
      const std::string got = hash.hex();
      if (expected.empty() || got == expected) {
        std::fclose(f);
        f = nullptr;
        fs::rename(part, job.dest, ec);
        if (ec) throw DownloadError("cannot rename " + part + ": " + ec.message());
        return got;
      }
      // Corrupted in transit or on the mirror: once more from zero, then give up.
      if (++corrupt > 1) {
        std::fclose(f);
        f = nullptr;
        fs::remove(part, ec);
        throw DownloadError(job.label + ": SHA-256 mismatch twice (expected " + expected + ", got " + got +
                            "); the file was deleted");
      }
      progress.note(job.label + ": SHA-256 mismatch (expected " + expected + ", got " + got + "); downloading it again");
      start_over();
    }
    const uint64_t before = have;
    bool overflow = false, wrong_range = false;
    std::string write_error;  // a disk error is not a dropped connection: no retry
    std::string problem;
    try {
      HttpReply r = http.stream(
          job.url, have,
          [&](long, uint64_t offset) {
            if (offset == have) return true;
            if (offset == 0) {  // the server ignored the range: the whole file comes again
              start_over();
              return true;
            }
            wrong_range = true;  // another range than asked for: not ours to splice in
            return false;
          },
          [&](const char* data, size_t n) {
            if (have + n > job.size) {
              overflow = true;
              return false;
            }
            if (std::fwrite(data, 1, n, f) != n) {
              write_error = std::strerror(errno);
              return false;
            }
            hash.update(data, n);
            have += n;
            progress.add(n);
            return true;
          },
          policy.request);
      if (expected.empty()) expected = sha_from_etag(r.header("x-linked-etag"));
      if (!write_error.empty()) throw DownloadError("cannot write " + part + ": " + write_error);
      if (overflow) throw DownloadError(job.label + ": the server sent more than the " + std::to_string(job.size) + " bytes listed");
      if (r.status == 401 || r.status == 403) throw DownloadError(auth_hint(r.status, job.label));
      if (r.status == 404 || r.status == 410) throw DownloadError(job.label + ": not found on the hub (" + std::to_string(r.status) + ")");
      if (wrong_range) {
        problem = "the server answered another byte range than asked for";
      } else if (r.status == 416) {  // a range past the end: what is on disk is not a prefix of this file
        start_over();
        problem = "range not satisfiable; starting over";
      } else if (r.status == 429 || r.status >= 500) {
        problem = "the hub answered " + std::to_string(r.status);
        const double wait = r.retry_after_seconds();
        if (wait >= 0) backoff = std::min(std::max(wait, 0.0), policy.max_backoff_s);
      } else if (r.status != 200 && r.status != 206) {
        throw DownloadError(job.label + ": the hub answered " + std::to_string(r.status));
      } else if (have < job.size) {
        problem = "the connection closed early";
      }
    } catch (const TransportError& e) {
      problem = e.what();
    }
    if (problem.empty()) continue;  // complete: checked at the top
    if (have > before) {            // progress was made: the next try starts fresh
      failures = 0;
      backoff = std::min(backoff, policy.backoff_s);
    }
    if (++failures >= policy.max_attempts)
      throw DownloadError(job.label + ": giving up after " + std::to_string(failures) + " tries: " + problem);
    char wait[32];
    std::snprintf(wait, sizeof wait, "%.1f s", backoff);
    progress.note(job.label + ": " + problem + "; retrying from byte " + std::to_string(have) + " in " + wait);
    sleep_s(backoff);
    backoff = std::min(backoff * 2, policy.max_backoff_s);
  }
}

}  // namespace qs::hub
