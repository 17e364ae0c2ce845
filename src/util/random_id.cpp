#include "util/random_id.h"

#include <random>

namespace qs {

namespace {
std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}
}  // namespace

std::string random_id(const std::string& prefix, int length) {
  static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::mt19937_64& rng = thread_rng();
  std::string s = prefix;
  for (int i = 0; i < length; ++i) s += kAlnum[rng() % (sizeof kAlnum - 1)];
  return s;
}

uint64_t random_u64() { return thread_rng()(); }

}  // namespace qs
