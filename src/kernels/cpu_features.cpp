#include "kernels/cpu_features.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

namespace {

// Structured extended features (leaf 7): EDX bit 24 AMX-TILE, bit 25 AMX-INT8. 0 where absent.
unsigned cpuid7_edx() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  return d;
#else
  return 0;
#endif
}

// Linux hands out the 8 KiB tile state only to processes that ask for it (once, for all threads).
bool os_grants_tiles() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

bool amx_available() {
  const char* env = std::getenv("QIUSUO_AMX");
  if (env && std::strcmp(env, "0") == 0) return false;
  const unsigned d = cpuid7_edx();
  const bool tile = (d >> 24) & 1, int8 = (d >> 25) & 1;
  return tile && int8 && detected_simd_level() >= SimdLevel::Avx512 && os_grants_tiles();
}

}  // namespace

bool cpu_has_amx_int8() { return (cpuid7_edx() >> 25) & 1; }

bool amx_usable() {
  static const bool available = amx_available();  // thread-safe, asked once
  return available && active_simd_level() >= SimdLevel::Avx512;
}

const char* simd_summary() {
  const SimdLevel level = active_simd_level();
  return level == SimdLevel::Avx512 && amx_usable() ? "avx512-vnni+amx" : simd_level_name(level);
}

}  // namespace qs
