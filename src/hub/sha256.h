// SHA-256 (OpenSSL's, which uses the CPU's SHA instructions) for checking downloads against the hub's
// LFS object ids.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace qs::hub {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  std::string hex();  // the digest in lower-case hex; the hash restarts afterwards
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Feeds the first `bytes` of a file into `h`; throws std::runtime_error when it cannot be read.
void hash_file_prefix(const std::string& path, size_t bytes, Sha256& h);

}  // namespace qs::hub
