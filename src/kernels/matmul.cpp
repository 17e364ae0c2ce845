#include "kernels/matmul.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kernels/ops.h"
#include "kernels/plan.h"
#include "kernels/prefetch.h"
#include "kernels/q5_x16.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "kernels/thread_pool.h"
#include "kernels/tuning.h"
#include "tensor/quants.h"

namespace qs {

namespace {

// Rows handled together in matmul: their weights stay in L1/L2 while every token of the batch
// streams past them.
constexpr int64_t kRowTile = 16;

// Fallback for formats without a direct kernel: dequantize each row, then a float dot.
void matvec_rows_dequant(const MatView& W, const float* x, float* y, int64_t r0, int64_t r1) {
  if (W.layout != RowLayout::File) {
    std::vector<float> row(static_cast<size_t>(W.cols));
    for (int64_t r = r0; r < r1; ++r) {
      row_to_float(W, r, row.data());
      y[r] = dot_f32(row.data(), x, W.cols);
    }
    return;
  }
  for (int64_t r = r0; r < r1; ++r) y[r] = dot_row_f32(W.type, W.row(r), x, W.cols);
}

// The activation vector(s) in the kernel's format, reusing a per-thread buffer.
const void* prepare_act(ActFormat f, const float* X, int64_t n_tok, int64_t cols, std::vector<uint8_t>& buf) {
  if (f == ActFormat::F32) return X;
  const size_t ab = act_bytes(f, cols);
  buf.resize(ab * static_cast<size_t>(n_tok));
  if (n_tok == 1) {
    quantize_act(f, X, buf.data(), cols);
  } else {
    global_pool().parallel_for(n_tok, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) quantize_act(f, X + t * cols, buf.data() + t * ab, cols);
    });
  }
  return buf.data();
}

thread_local std::vector<uint8_t> tl_act;

}  // namespace

void matvec_st(const MatView& W, const float* x, float* y, PrefetchTrail* next) {
  // Float activations (Q4_K rounds them to 16 bits inside its kernel, q4k_mla.h): this serves MLA's
  // per-head up-projections, where rounding the latent to 8 bits moved the fixture logits ten times
  // more than all other products together.
  const FloatDotFn fn = W.layout == RowLayout::File ? row_dot_f32act_kernel(W.type) : nullptr;
  if (!fn) return matvec_rows_dequant(W, x, y, 0, W.rows);
  fn(W.data, W.row_stride, W.rows, x, W.cols, y, next);
}

// Grouped layouts (Q8x16, Q4Kx16, Q5x16): the layout's kernel over ranges of 16-row groups, every token at once.
static void matmul_grouped(const MatView& W, const float* X, int64_t n, float* Y, ActFormat f, GemmFn gemm) {
  std::vector<uint8_t> buf;
  const auto* act = static_cast<const uint8_t*>(prepare_act(f, X, n, W.cols, n == 1 ? tl_act : buf));
  const size_t ab = act_bytes(f, W.cols);
  auto groups = [&](int64_t g0, int64_t g1, int) {
    gemm(W.row(16 * g0), W.row_stride, 16 * (g1 - g0), act, ab, n, W.cols, Y + 16 * g0, static_cast<size_t>(W.rows));
  };
  if (n == 1 && W.rows * W.cols < tuning().single_thread_max_weights) return groups(0, W.rows / 16, 0);
  global_pool().parallel_for_dynamic(W.rows / 16, groups, min_claim_groups(n));
}

// 16-row groups converted to Q8x16 on the fly (q8x16_group_of), each shared by every token of the batch.
static void matmul_converted_q8x16(const MatView& W, const float* X, int64_t n, float* Y, ActFormat f, GemmFn gemm) {
  std::vector<uint8_t> buf;
  const auto* act = static_cast<const uint8_t*>(prepare_act(f, X, n, W.cols, buf));
  const size_t ab = act_bytes(f, W.cols);
  const size_t q8_row = row_bytes(GgmlType::Q8_0, W.cols);
  global_pool().parallel_for_dynamic(W.rows / 16, [&](int64_t g0, int64_t g1, int) {
    for (int64_t g = g0; g < g1; ++g)
      gemm(q8x16_group_of(W, g), q8_row, 16, act, ab, n, W.cols, Y + 16 * g, static_cast<size_t>(W.rows));
  });
}

// One token: the plan may keep a small product on the calling thread.
static void matvec(const MatView& W, const float* x, float* y) {
  const ProductPlan p = plan_product(W, 1, Threading::CallerIfSmall);
  if (p.on_caller) return matvec_st(W, x, y);
  switch (p.kind) {
    case ProductPlan::Kind::Grouped: return matmul_grouped(W, x, 1, y, p.act, p.gemm);
    case ProductPlan::Kind::ConvertedGrouped: return matmul_converted_q8x16(W, x, 1, y, p.act, p.gemm);
    case ProductPlan::Kind::RowDot: {
      const void* act = prepare_act(p.act, x, 1, W.cols, tl_act);
      global_pool().parallel_for_dynamic(W.rows, [&](int64_t r0, int64_t r1, int) {
        p.row(W.row(r0), W.row_stride, r1 - r0, act, W.cols, y + r0);
      });
      return;
    }
    case ProductPlan::Kind::Dequantize:
      global_pool().parallel_for_dynamic(W.rows, [&](int64_t r0, int64_t r1, int) { matvec_rows_dequant(W, x, y, r0, r1); });
      return;
  }
}

void matvec_t_st(const MatView& W, const float* x, float* y, PrefetchTrail* next) {
  for (int64_t c = 0; c < W.cols; ++c) y[c] = 0.f;
  if (W.layout == RowLayout::File) {
    if (const RowsAxpyFn fn = rows_axpy_kernel(W.type)) return fn(W.data, W.row_stride, W.rows, x, W.cols, y, next);
  }
  std::vector<float> buf(W.type == GgmlType::F32 ? 0 : static_cast<size_t>(W.cols));
  for (int64_t r = 0; r < W.rows; ++r) {
    const float* row = reinterpret_cast<const float*>(W.row(r));
    if (W.type != GgmlType::F32) {
      row_to_float(W, r, buf.data());
      row = buf.data();
    }
    axpy_f32(x[r], row, y, W.cols);
  }
}

void matmul(const MatView& W, const float* X, int64_t n, float* Y) {
  if (n == 1) return matvec(W, X, Y);
  const ProductPlan p = plan_product(W, n, Threading::Pool);
  if (p.kind == ProductPlan::Kind::Grouped) return matmul_grouped(W, X, n, Y, p.act, p.gemm);
  if (p.kind == ProductPlan::Kind::ConvertedGrouped) return matmul_converted_q8x16(W, X, n, Y, p.act, p.gemm);
  const int64_t n_tiles = (W.rows + kRowTile - 1) / kRowTile;
  if (p.kind == ProductPlan::Kind::RowDot) {
    std::vector<uint8_t> buf;
    const auto* act = static_cast<const uint8_t*>(prepare_act(p.act, X, n, W.cols, buf));
    const size_t ab = act_bytes(p.act, W.cols);
    global_pool().parallel_for_dynamic(n_tiles, [&](int64_t t0, int64_t t1, int) {
      for (int64_t tile = t0; tile < t1; ++tile) {
        const int64_t r0 = tile * kRowTile, nr = std::min(kRowTile, W.rows - r0);
        for (int64_t t = 0; t < n; ++t) p.row(W.row(r0), W.row_stride, nr, act + t * ab, W.cols, Y + t * W.rows + r0);
      }
    });
    return;
  }
  // No kernel for this format: dequantize a tile of rows once, then float dots for every token.
  global_pool().parallel_for_dynamic(n_tiles, [&](int64_t t0, int64_t t1, int) {
    std::vector<float> rows(static_cast<size_t>(kRowTile * W.cols));
    for (int64_t tile = t0; tile < t1; ++tile) {
      const int64_t r0 = tile * kRowTile, nr = std::min(kRowTile, W.rows - r0);
      for (int64_t k = 0; k < nr; ++k) row_to_float(W, r0 + k, rows.data() + k * W.cols);
      for (int64_t t = 0; t < n; ++t)
        for (int64_t k = 0; k < nr; ++k) Y[t * W.rows + r0 + k] = dot_f32(rows.data() + k * W.cols, X + t * W.cols, W.cols);
    }
  });
}

}  // namespace qs
