// Kernel micro-benchmark: matrix-vector products per weight type and SIMD level, reported as
// GB/s of weights streamed (decode is bound by that) and GFLOP/s for the batched product; first
// the repacked layouts' one-token product from memory. Args: ROWS COLS THREADS [grouped].
#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/bandwidth.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"

using namespace qs;

namespace {

// Decode's case: one token against the layouts weights are repacked into at load, from a matrix
// far larger than the caches (random bytes: the kernels' speed does not depend on the values), next
// to the read and triad bandwidth of the same threads.
void bench_grouped_decode() {
  if (detected_simd_level() < SimdLevel::Avx512) return;
  const BandwidthResult bw = measure_bandwidth();
  std::printf("memory: read %.1f GB/s, triad %.1f GB/s (over %.0f MiB)\n", bw.read_gbps, bw.triad_gbps,
              static_cast<double>(bw.buffer_bytes) / (1 << 20));
  struct Case {
    const char* name;
    GgmlType type;
    RowLayout layout;
    int64_t cols;
    size_t row_bytes;
  };
  const Case cases[] = {{"Q8x16", GgmlType::Q8_0, RowLayout::Q8x16, 2048, row_bytes(GgmlType::Q8_0, 2048)},
                        {"Q4Kx16", GgmlType::Q4_K, RowLayout::Q4Kx16, 2048, 148 * 8},
                        {"Q5x16", GgmlType::Q5_0, RowLayout::Q5x16, 1408, row_bytes(GgmlType::Q5_0, 1408)}};
  const size_t target = bw.buffer_bytes;  // as far past the last-level cache as the bandwidth test
  for (const Case& c : cases) {
    const int64_t rows = static_cast<int64_t>(target / c.row_bytes) / 16 * 16;
    std::vector<uint8_t> w(c.row_bytes * rows);
    uint64_t st = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i + 8 <= w.size(); i += 8) {
      st ^= st << 13, st ^= st >> 7, st ^= st << 17;
      std::memcpy(w.data() + i, &st, 8);
    }
    // Keep every fp16 scale finite and small (the first bytes of a group are scales in all three).
    for (size_t i = 1; i < w.size(); i += 2) w[i] &= 0x3B;
    MatView m{w.data(), c.type, rows, c.cols, c.row_bytes};
    m.layout = c.layout;
    std::vector<float> x(c.cols, 0.5f), y(rows);
    matmul(m, x.data(), 1, y.data());
    double best = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      matmul(m, x.data(), 1, y.data());
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%-7s matvec from memory %6.1f GB/s (%.0f%% of read)\n", c.name, w.size() / best / 1e9,
                100.0 * w.size() / best / 1e9 / bw.read_gbps);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 16384, cols = argc > 2 ? std::atoll(argv[2]) : 2048;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  set_global_threads(threads);
  bench_grouped_decode();
  if (argc > 4 && std::string(argv[4]) == "grouped") return 0;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> src(cols), x(cols * 64), y(rows * 64);
  for (auto& v : x) v = nd(rng);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_0, GgmlType::Q6_K, GgmlType::F16}) {
    const size_t rb = row_bytes(t, cols);
    std::vector<uint8_t> w(rb * rows);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : src) v = nd(rng);
      quantize_row(t, src.data(), w.data() + r * rb, cols);
    }
    MatView m{w.data(), t, rows, cols, rb};
    for (SimdLevel lv : {SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512}) {
      if (lv > detected_simd_level()) continue;
      set_simd_level(lv);
      matmul(m, x.data(), 1, y.data());
      const int reps = 20;
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) matmul(m, x.data(), 1, y.data());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
      t0 = std::chrono::steady_clock::now();
      matmul(m, x.data(), 64, y.data());
      const double s64 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%-5s %-12s matvec %7.2f GB/s  (%.3f ms)   matmul x64 %7.1f GFLOP/s\n", std::string(traits(t).name).c_str(),
                  simd_level_name(lv), w.size() / s / 1e9, s * 1e3, 2.0 * rows * cols * 64 / s64 / 1e9);
    }
  }
}
