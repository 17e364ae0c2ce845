#include "hub/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

namespace qs::hub {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx) throw std::runtime_error("OpenSSL: cannot create a digest context");
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::reset() {
  if (EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) throw std::runtime_error("OpenSSL: SHA-256 unavailable");
}

void Sha256::update(const void* data, size_t n) { EVP_DigestUpdate(impl_->ctx, data, n); }

std::string Sha256::hex() {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(impl_->ctx, d, &n);
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += digits[d[i] >> 4];
    s += digits[d[i] & 15];
  }
  reset();
  return s;
}

void hash_file_prefix(const std::string& path, size_t bytes, Sha256& h) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read " + path);
  std::vector<char> buf(size_t{4} << 20);
  while (bytes > 0) {
    const size_t n = std::fread(buf.data(), 1, std::min(bytes, buf.size()), f);
    if (n == 0) break;
    h.update(buf.data(), n);
    bytes -= n;
  }
  const bool short_read = bytes > 0;
  std::fclose(f);
  if (short_read) throw std::runtime_error("cannot read " + path + " (shorter than expected)");
}

}  // namespace qs::hub
