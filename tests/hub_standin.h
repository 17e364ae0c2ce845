// A loopback stand-in for a model hub (Hugging Face's tree API and resolve redirects, ModelScope's file
// API) that can misbehave on cue: drop a connection, corrupt bytes, stall, answer 401/429/503. The pull
// tests point HF_ENDPOINT / MODELSCOPE_ENDPOINT at it.
#pragma once
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace qs::test {

// The SHA-256 of `s` in hex, from OpenSSL directly (not through the code under test).
inline std::string sha256_hex(const std::string& s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[d[i] >> 4];
    out += hex[d[i] & 15];
  }
  return out;
}

// Deterministic filler bytes.
inline std::string filler_bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

// What a file's first responses do wrong.
struct Faults {
  int drop = 0;            // this many responses close the connection after drop_at of the file
  double drop_at = 0.4;
  int corrupt = 0;         // this many responses flip a byte in the middle (-1: every response)
  int status = 0;          // this many responses answer status_code instead
  int status_code = 503;
  int retry_after = -1;    // Retry-After seconds with status_code (-1: none)
  int stall = 0;           // this many responses stop sending at stall_at for stall_ms
  double stall_at = 0.5;
  int stall_ms = 0;        // 0: until release_stalls()
};

class HubStandin {
 public:
  HubStandin() {
    srv_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~HubStandin() { stop(); }

  void stop() {
    release_stalls();
    srv_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void add(const std::string& repo, const std::string& path, const std::string& bytes, Faults f = {}, bool lfs = true) {
    std::lock_guard<std::mutex> lock(mu_);
    repos_[repo].push_back({path, bytes, lfs, f, 0});
  }
  // The listing answers `status` (with Retry-After) this many times first.
  void listing_faults(const std::string& repo, int times, int status, int retry_after) {
    std::lock_guard<std::mutex> lock(mu_);
    listing_faults_[repo] = {times, status, retry_after};
  }
  void gate(const std::string& repo, const std::string& token) {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_[repo] = token;
  }
  void page_size(size_t n) { page_size_ = n; }
  void release_stalls() { released_ = true; }

  uint64_t bytes_served() const { return served_; }
  void reset_counters() {
    std::lock_guard<std::mutex> lock(mu_);
    served_ = 0;
    log_.clear();
  }
  // "GET /path|range|authorization" per request.
  std::vector<std::string> log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  struct File {
    std::string path, bytes;
    bool lfs;
    Faults faults;
    int requests;
  };
  struct ListingFault {
    int times = 0, status = 0, retry_after = -1;
  };

  static bool starts(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

  File* find(const std::string& repo, const std::string& path) {
    auto it = repos_.find(repo);
    if (it == repos_.end()) return nullptr;
    for (auto& f : it->second)
      if (f.path == path) return &f;
    return nullptr;
  }

  bool authorized(const std::string& repo, const httplib::Request& req) const {
    const auto it = tokens_.find(repo);
    return it == tokens_.end() || req.get_header_value("Authorization") == "Bearer " + it->second;
  }

  // Splits "owner/name/rest" into repo and rest.
  static bool split_repo(const std::string& s, std::string& repo, std::string& rest) {
    const size_t a = s.find('/');
    if (a == std::string::npos) return false;
    const size_t b = s.find('/', a + 1);
    repo = s.substr(0, b);
    rest = b == std::string::npos ? "" : s.substr(b + 1);
    return true;
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu_);
    log_.push_back("GET " + req.path + "|" + req.get_header_value("Range") + "|" + req.get_header_value("Authorization"));
    std::string repo, rest;
    if (starts(req.path, "/api/models/") && split_repo(req.path.substr(12), repo, rest) && starts(rest, "tree/")) {
      return listing(req, res, repo, false);
    }
    if (starts(req.path, "/api/v1/models/") && split_repo(req.path.substr(15), repo, rest)) {
      if (rest == "repo/files") return listing(req, res, repo, true);
      if (rest == "repo") return serve_file(lock, res, repo, req.get_param_value("FilePath"));
    }
    if (starts(req.path, "/cdn/") && split_repo(req.path.substr(5), repo, rest)) return serve_file(lock, res, repo, rest);
    if (split_repo(req.path.substr(1), repo, rest) && starts(rest, "resolve/")) {
      if (!authorized(repo, req)) return void(res.status = 401);
      const size_t slash = rest.find('/', 8);
      res.status = 302;  // as the Hub sends LFS files to its CDN
      // On another host name, as the Hub's CDN is (credentials must not follow).
      res.set_header("Location", "http://localhost:" + std::to_string(port_) + "/cdn/" + repo + "/" + rest.substr(slash + 1));
      return;
    }
    res.status = 404;
  }

  void listing(const httplib::Request& req, httplib::Response& res, const std::string& repo, bool modelscope) {
    if (auto it = listing_faults_.find(repo); it != listing_faults_.end() && it->second.times > 0) {
      --it->second.times;
      res.status = it->second.status;
      if (it->second.retry_after >= 0) res.set_header("Retry-After", std::to_string(it->second.retry_after));
      return;
    }
    if (!authorized(repo, req)) return void(res.status = 401);
    const auto it = repos_.find(repo);
    if (it == repos_.end()) return void(res.status = 404);
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : it->second) {
      if (modelscope) {
        files.push_back({{"Path", f.path}, {"Size", f.bytes.size()}, {"Sha256", sha256_hex(f.bytes)}, {"Type", "blob"}});
      } else {
        nlohmann::json e = {{"type", "file"}, {"path", f.path}, {"size", f.bytes.size()}, {"oid", "0123"}};
        if (f.lfs) e["lfs"] = {{"oid", sha256_hex(f.bytes)}, {"size", f.bytes.size()}, {"pointerSize", 134}};
        files.push_back(e);
      }
    }
    if (modelscope) return res.set_content(nlohmann::json{{"Code", 200}, {"Data", {{"Files", files}}}}.dump(), "application/json");
    // Pages of page_size_ entries, chained by Link headers, as the Hub does for large repositories.
    const size_t from = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
    const size_t n = page_size_ > 0 ? page_size_ : files.size();
    nlohmann::json page = nlohmann::json::array();
    for (size_t i = from; i < std::min(files.size(), from + n); ++i) page.push_back(files[i]);
    if (from + n < files.size())
      res.set_header("Link", "<" + endpoint() + req.path + "?recursive=true&cursor=" + std::to_string(from + n) + ">; rel=\"next\"");
    res.set_content(page.dump(), "application/json");
  }

  void serve_file(std::unique_lock<std::mutex>& lock, httplib::Response& res, const std::string& repo, const std::string& path) {
    File* f = find(repo, path);
    if (!f) return void(res.status = 404);
    const int nth = f->requests++;
    Faults& fl = f->faults;
    if (nth < fl.status) {
      res.status = fl.status_code;
      if (fl.retry_after >= 0) res.set_header("Retry-After", std::to_string(fl.retry_after));
      return;
    }
    const bool drop = nth < fl.drop, corrupt = fl.corrupt < 0 || nth < fl.corrupt, stall = nth < fl.stall;
    const std::string bytes = f->bytes;
    const Faults faults = fl;
    lock.unlock();
    auto sent = std::make_shared<size_t>(0);
    res.set_content_provider(bytes.size(), "application/octet-stream",
                             [this, bytes, faults, drop, corrupt, stall, sent](size_t offset, size_t length, httplib::DataSink& sink) {
                               const size_t size = bytes.size();
                               if (drop && *sent >= static_cast<size_t>(faults.drop_at * size)) return false;
                               if (stall && *sent >= static_cast<size_t>(faults.stall_at * size)) {
                                 const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(faults.stall_ms);
                                 while (!released_ && (faults.stall_ms == 0 || std::chrono::steady_clock::now() < until))
                                   std::this_thread::sleep_for(std::chrono::milliseconds(20));
                                 if (released_ && faults.stall_ms == 0) return false;
                               }
                               const size_t n = std::min<size_t>(length, 8192);
                               std::string chunk = bytes.substr(offset, n);
                               if (corrupt && offset <= size / 2 && size / 2 < offset + n) chunk[size / 2 - offset] ^= 0x5a;
                               if (!sink.write(chunk.data(), chunk.size())) return false;
                               *sent += n;
                               served_ += n;
                               return true;
                             });
  }

  httplib::Server srv_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<File>> repos_;
  std::map<std::string, ListingFault> listing_faults_;
  std::map<std::string, std::string> tokens_;
  std::vector<std::string> log_;
  std::atomic<uint64_t> served_{0};
  std::atomic<bool> released_{false};
  size_t page_size_ = 0;
};

}  // namespace qs::test
