// Kernel micro-benchmark: matrix-vector products per weight type and SIMD level, reported as
// GB/s of weights streamed (decode is bound by that) and GFLOP/s for the batched product.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"

using namespace qs;

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 16384, cols = argc > 2 ? std::atoll(argv[2]) : 2048;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  set_global_threads(threads);
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
      matvec(m, x.data(), y.data());
      const int reps = 20;
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) matvec(m, x.data(), y.data());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
      t0 = std::chrono::steady_clock::now();
      matmul(m, x.data(), 64, y.data());
      const double s64 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%-5s %-12s matvec %7.2f GB/s  (%.3f ms)   matmul x64 %7.1f GFLOP/s\n", std::string(traits(t).name).c_str(),
                  simd_level_name(lv), w.size() / s / 1e9, s * 1e3, 2.0 * rows * cols * 64 / s64 / 1e9);
    }
  }
}
