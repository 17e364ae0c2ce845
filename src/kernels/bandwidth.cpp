#include "kernels/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/thread_pool.h"

namespace qs {

BandwidthResult measure_bandwidth(int total_mib, int reps) {
  const size_t n = static_cast<size_t>(total_mib) * (1u << 20) / 3 / sizeof(float);
  std::unique_ptr<float[]> a(new float[n]), b(new float[n]), c(new float[n]);
  ThreadPool& pool = global_pool();
  // First touch on the measuring threads, so pages are local to them.
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) a[i] = 1.f, b[i] = 2.f, c[i] = 0.5f;
  });
  BandwidthResult r;
  for (int rep = 0; rep < reps; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), [&](int64_t i0, int64_t i1, int) {
      float* __restrict pa = a.get();
      const float* __restrict pb = b.get();
      const float* __restrict pc = c.get();
      for (int64_t i = i0; i < i1; ++i) pa[i] = pb[i] + 3.f * pc[i];
    });
    const double triad = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.triad_gbps = std::max(r.triad_gbps, 3.0 * n * sizeof(float) / triad / 1e9);

    std::vector<uint32_t> partial(pool.size(), 0);
    t0 = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), [&](int64_t i0, int64_t i1, int t) {
      // Integer sum of the bit patterns: associative, so the compiler vectorises it and the loop is
      // bound by memory, not by a float add chain.
      const auto* __restrict pb = reinterpret_cast<const uint32_t*>(b.get());
      uint32_t s = 0;
      for (int64_t i = i0; i < i1; ++i) s += pb[i];
      partial[t] = s;
    });
    const double read = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.read_gbps = std::max(r.read_gbps, n * sizeof(float) / read / 1e9);
    volatile uint32_t sink = partial[0];
    (void)sink;
  }
  return r;
}

}  // namespace qs
