// matmul_many (several products in one parallel pass) equals one matmul per product, whatever mix of
// weight layouts and kernels the products need, and shares inputs without mixing them up.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/matmul_many.h"
#include "kernels/repack.h"
#include "tensor/quants.h"

namespace qs {
namespace {

struct Matrix {
  std::vector<uint8_t> bytes, packed;
  MatView view;
};

Matrix make(GgmlType t, int64_t rows, int64_t cols, bool repacked, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 0.1f);
  Matrix m;
  const size_t stride = row_bytes(t, cols);
  m.bytes.resize(stride * rows);
  std::vector<float> tmp(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : tmp) v = nd(rng);
    quantize_row(t, tmp.data(), m.bytes.data() + r * stride, cols);
  }
  m.view = MatView{m.bytes.data(), t, rows, cols, stride};
  if (repacked && repack_worthwhile(m.view)) {
    m.packed.resize(repacked_size(m.view));
    m.view = repack(m.view, m.packed.data());
  }
  return m;
}

TEST(MatmulMany, EqualsOneMatmulPerJob) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (int64_t n : {1, 3, 9}) {  // 9: batches convert Q4_K groups to Q8x16 on the fly
    // Inputs of 1024, 1024 and 512 columns; jobs 0-1 and 4 share input a. Matrices are big enough
    // (≥ 32768 weights) that matmul also takes its quantized-activation path for one token.
    std::vector<float> a(n * 1024), b(n * 1024), c(n * 512);
    for (auto* v : {&a, &b, &c})
      for (auto& x : *v) x = nd(rng);
    std::vector<Matrix> mats;
    mats.push_back(make(GgmlType::Q8_0, 48, 1024, true, rng));   // Q8x16 groups
    mats.push_back(make(GgmlType::Q4_K, 40, 1024, true, rng));   // file layout, 8-bit activations
    mats.push_back(make(GgmlType::F16, 7, 1024, false, rng));    // float activations, a partial piece
    mats.push_back(make(GgmlType::Q5_K, 33, 512, false, rng));  // no direct kernel: dequantized rows
    mats.push_back(make(GgmlType::Q8_0, 48, 1024, false, rng));  // file-layout Q8_0 on the same input as job 0
    const float* inputs[] = {a.data(), a.data(), b.data(), c.data(), a.data()};
    std::vector<std::vector<float>> want(mats.size()), got(mats.size());
    std::vector<MatmulJob> jobs;
    for (size_t i = 0; i < mats.size(); ++i) {
      const MatView& W = mats[i].view;
      want[i].resize(n * W.rows);
      got[i].assign(n * W.rows, NAN);
      matmul(W, inputs[i], n, want[i].data());
      jobs.push_back({W, inputs[i], n, got[i].data()});
    }
    matmul_many(jobs);
    for (size_t i = 0; i < mats.size(); ++i)
      for (size_t k = 0; k < want[i].size(); ++k)
        EXPECT_NEAR(got[i][k], want[i][k], 1e-5 * (1 + std::fabs(want[i][k]))) << "job " << i << " n " << n << " at " << k;
  }
}

TEST(MatmulMany, EmptyListAndEmptyBatchesDoNothing) {
  matmul_many({});
  std::mt19937 rng(5);
  Matrix m = make(GgmlType::Q8_0, 16, 64, true, rng);
  std::vector<float> x(64, 1.f), y(16, 7.f);
  matmul_many({{m.view, x.data(), 0, y.data()}});
  for (float v : y) EXPECT_EQ(v, 7.f);
}

}  // namespace
}  // namespace qs
