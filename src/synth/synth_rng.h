// Seeded random numbers for synthetic weights: every row of every tensor has its own stream, derived
// from (seed, tensor name, row), so the bytes do not depend on thread count or generation order.
#pragma once
#include <cstdint>
#include <string_view>

namespace qs {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

inline uint64_t tensor_seed(uint64_t seed, std::string_view name) { return splitmix64(seed ^ fnv1a64(name)); }
inline uint64_t row_seed(uint64_t tseed, uint64_t row) { return splitmix64(tseed + row * 0xd1342543de82ef95ull); }

// xoshiro256**: fast, good statistical quality, tiny state.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    for (auto& w : s_) w = seed = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Approximately N(0, 1): Irwin-Hall sum of four 16-bit uniforms, centred and scaled to unit
  // variance. Bounded by ±3.46, which is harmless for weights and costs one draw per value.
  float normal() {
    const uint64_t r = next();
    const float s = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    constexpr float kScale = 1.7320508f / 65536.0f;  // sqrt(3): var of a sum of 4 U(0,1) is 1/3
    return (s + 2.0f) * kScale - 2.0f * 1.7320508f;  // +2: centre of the four discrete uniforms
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace qs
