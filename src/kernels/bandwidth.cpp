#include "kernels/bandwidth.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/thread_pool.h"
#include "kernels/target.h"

namespace qs {

namespace {

// Integer sum of the bit patterns of [i0, i1) as `streams` sub-ranges walked side by side in 256-byte
// steps: associative, so the compiler vectorises it and the loop is bound by memory, not by a float
// add chain. Inlined into one copy per ISA below, so it reads with the vector width the kernels use
// (explicit dispatch, not target_clones: an ifunc resolver runs before the sanitizer runtimes start).
__attribute__((always_inline)) inline uint32_t sum_streams_body(const uint32_t* __restrict p, int64_t i0, int64_t i1,
                                                                int streams) {
  constexpr int64_t kStep = 64;  // 256 bytes per stream and step
  const int64_t sub = (i1 - i0) / streams / kStep * kStep;
  uint32_t s = 0;
  for (int64_t off = 0; off < sub; off += kStep)
    for (int k = 0; k < streams; ++k)
      for (int64_t i = i0 + k * sub + off; i < i0 + k * sub + off + kStep; ++i) s += p[i];
  for (int64_t i = i0 + streams * sub; i < i1; ++i) s += p[i];
  return s;
}

QS_TARGET_AVX512F uint32_t sum_streams_avx512(const uint32_t* p, int64_t i0, int64_t i1, int streams) {
  return sum_streams_body(p, i0, i1, streams);
}

QS_TARGET_AVX2 uint32_t sum_streams_avx2(const uint32_t* p, int64_t i0, int64_t i1, int streams) {
  return sum_streams_body(p, i0, i1, streams);
}

uint32_t sum_streams(const uint32_t* p, int64_t i0, int64_t i1, int streams) {
  switch (detected_simd_level()) {
    case SimdLevel::Avx512: return sum_streams_avx512(p, i0, i1, streams);
    case SimdLevel::Avx2: return sum_streams_avx2(p, i0, i1, streams);
    default: return sum_streams_body(p, i0, i1, streams);
  }
}

// Reads n floats on every thread of the pool, each thread's share as `streams` streams. One
// sequential stream per thread under-reads badly on some machines (2-core Sapphire Rapids slice:
// ~19 GB/s with 64-byte loads, 25 with 2 streams, 30 with 8), and the decode kernels read two: the
// best of 1, 2, 4 and 8 is the read roofline.
double read_gbps(ThreadPool& pool, const float* data, size_t n, int streams) {
  std::vector<uint32_t> partial(static_cast<size_t>(pool.size()), 0);
  const auto t0 = std::chrono::steady_clock::now();
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t i0, int64_t i1, int t) {
    partial[static_cast<size_t>(t)] = sum_streams(reinterpret_cast<const uint32_t*>(data), i0, i1, streams);
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  volatile uint32_t sink = partial[0];
  (void)sink;
  return static_cast<double>(n) * sizeof(float) / secs / 1e9;
}

}  // namespace

size_t bandwidth_buffer_bytes() {
  constexpr size_t kMiB = size_t{1} << 20;
  if (const char* env = std::getenv("QIUSUO_BANDWIDTH_MIB")) {
    char* end = nullptr;
    const long long mib = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0') return static_cast<size_t>(std::max(16LL, std::min(mib, 1LL << 20))) * kMiB;
  }
  long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (llc <= 0) llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
  size_t bytes = std::max<size_t>(768 * kMiB, 4 * static_cast<size_t>(std::max(0L, llc)));
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) bytes = std::min(bytes, std::max<size_t>(64 * kMiB, static_cast<size_t>(pages) * page / 4));
  return bytes;
}

BandwidthResult measure_bandwidth(size_t total_bytes, int reps) {
  if (total_bytes == 0) total_bytes = bandwidth_buffer_bytes();
  const size_t n = total_bytes / 3 / sizeof(float);
  // One allocation: the read test walks all three arrays as one.
  std::unique_ptr<float[]> buf(new float[3 * n]);
  float* const a = buf.get();
  float* const b = a + n;
  float* const c = b + n;
  ThreadPool& pool = global_pool();
  // First touch on the measuring threads, so pages are local to them.
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) a[i] = 1.f, b[i] = 2.f, c[i] = 0.5f;
  });
  BandwidthResult r;
  r.buffer_bytes = 3 * n * sizeof(float);
  for (int rep = 0; rep < reps; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), [&](int64_t i0, int64_t i1, int) {
      float* __restrict pa = a;
      const float* __restrict pb = b;
      const float* __restrict pc = c;
      for (int64_t i = i0; i < i1; ++i) pa[i] = pb[i] + 3.f * pc[i];
    });
    const double triad = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.triad_gbps = std::max(r.triad_gbps, 3.0 * n * sizeof(float) / triad / 1e9);

    for (const int streams : {1, 2, 4, 8}) r.read_gbps = std::max(r.read_gbps, read_gbps(pool, a, 3 * n, streams));
  }
  return r;
}

}  // namespace qs
