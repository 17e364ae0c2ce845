#include "kernels/cpu_features.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace qs {

namespace {

SimdLevel probe() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  if (avx2 && avx512) return SimdLevel::Avx512;
  if (avx2) return SimdLevel::Avx2;
#endif
  return SimdLevel::Scalar;
}

SimdLevel from_env(SimdLevel hw) {
  const char* env = std::getenv("QIUSUO_SIMD");
  if (!env) return hw;
  SimdLevel want = hw;
  if (std::strcmp(env, "scalar") == 0) want = SimdLevel::Scalar;
  else if (std::strcmp(env, "avx2") == 0) want = SimdLevel::Avx2;
  else if (std::strcmp(env, "avx512") == 0) want = SimdLevel::Avx512;
  return std::min(want, hw);
}

std::atomic<int>& active() {
  static std::atomic<int> level{static_cast<int>(from_env(detected_simd_level()))};
  return level;
}

}  // namespace

SimdLevel detected_simd_level() {
  static const SimdLevel level = probe();
  return level;
}

SimdLevel active_simd_level() { return static_cast<SimdLevel>(active().load(std::memory_order_relaxed)); }

void set_simd_level(SimdLevel level) {
  active().store(static_cast<int>(std::min(level, detected_simd_level())), std::memory_order_relaxed);
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return "scalar";
    case SimdLevel::Avx2: return "avx2";
    case SimdLevel::Avx512: return "avx512-vnni";
  }
  return "?";
}

bool cpu_has_amx_int8() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
  return (d >> 25) & 1;
#else
  return false;
#endif
}

}  // namespace qs
