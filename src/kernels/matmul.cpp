#include "kernels/matmul.h"

#include <vector>

#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"

namespace qs {

namespace {

// Rows dequantized at a time in matmul: their floats stay in L1/L2 while every token uses them.
constexpr int64_t kRowTile = 8;

void matvec_rows(const MatView& W, const float* x, float* y, int64_t r0, int64_t r1) {
  if (W.type == GgmlType::F32) {
    for (int64_t r = r0; r < r1; ++r) y[r] = dot_f32(reinterpret_cast<const float*>(W.row(r)), x, W.cols);
    return;
  }
  for (int64_t r = r0; r < r1; ++r) y[r] = dot_row_f32(W.type, W.row(r), x, W.cols);
}

}  // namespace

void matvec_st(const MatView& W, const float* x, float* y) { matvec_rows(W, x, y, 0, W.rows); }

void matvec(const MatView& W, const float* x, float* y) {
  if (W.rows * W.cols < 32768) {
    matvec_rows(W, x, y, 0, W.rows);
    return;
  }
  global_pool().parallel_for(W.rows, [&](int64_t r0, int64_t r1, int) { matvec_rows(W, x, y, r0, r1); });
}

void matvec_t_st(const MatView& W, const float* x, float* y) {
  for (int64_t c = 0; c < W.cols; ++c) y[c] = 0.f;
  std::vector<float> buf(W.type == GgmlType::F32 ? 0 : static_cast<size_t>(W.cols));
  for (int64_t r = 0; r < W.rows; ++r) {
    const float* row = reinterpret_cast<const float*>(W.row(r));
    if (W.type != GgmlType::F32) {
      dequantize_row(W.type, W.row(r), buf.data(), W.cols);
      row = buf.data();
    }
    axpy_f32(x[r], row, y, W.cols);
  }
}

void matmul(const MatView& W, const float* X, int64_t n, float* Y) {
  if (n == 1) {
    matvec(W, X, Y);
    return;
  }
  const int64_t n_tiles = (W.rows + kRowTile - 1) / kRowTile;
  global_pool().parallel_for(n_tiles, [&](int64_t t0, int64_t t1, int) {
    std::vector<float> buf(static_cast<size_t>(kRowTile * W.cols));
    for (int64_t tile = t0; tile < t1; ++tile) {
      const int64_t r0 = tile * kRowTile;
      const int64_t nr = std::min(kRowTile, W.rows - r0);
      for (int64_t k = 0; k < nr; ++k) {
        if (W.type == GgmlType::F32) {
          const float* src = reinterpret_cast<const float*>(W.row(r0 + k));
          std::copy(src, src + W.cols, buf.data() + k * W.cols);
        } else {
          dequantize_row(W.type, W.row(r0 + k), buf.data() + k * W.cols, W.cols);
        }
      }
      for (int64_t t = 0; t < n; ++t) {
        const float* x = X + t * W.cols;
        float* y = Y + t * W.rows;
        for (int64_t k = 0; k < nr; ++k) y[r0 + k] = dot_f32(buf.data() + k * W.cols, x, W.cols);
      }
    }
  });
}

}  // namespace qs
