#include "kernels/matmul_many.h"

#include <algorithm>
#include <memory>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/plan.h"
#include "kernels/prefetch.h"
#include "kernels/repack.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"

namespace qs {

namespace {

constexpr int64_t kPieceRows = 16;  // whole Q8x16 groups

// One job's kernel (plan.h) and its activations, decided before the parallel pass.
struct Plan {
  const MatmulJob* job;
  ProductPlan kernel;
  uint8_t* own_act = nullptr;  // activations this job quantizes (others may share them)
  const uint8_t* act = nullptr;
  size_t act_stride = 0;
  int64_t first_unit = 0, unit_per_piece = 1, pieces = 0;
};

// Pieces [lo, hi) of one job (one kernel call over all their rows where the layout allows).
void run_pieces(const Plan& p, int64_t lo, int64_t hi) {
  const MatView& W = p.job->W;
  const int64_t n = p.job->n, r0 = lo * kPieceRows, r1 = std::min(W.rows, hi * kPieceRows), nr = r1 - r0;
  float* Y = p.job->Y;
  const ProductPlan& k = p.kernel;
  if (k.kind == ProductPlan::Kind::ConvertedGrouped) {
    for (int64_t g = lo; g < hi; ++g)
      k.gemm(q8x16_group_of(W, g), row_bytes(GgmlType::Q8_0, W.cols), kPieceRows, p.act, p.act_stride, n, W.cols,
             Y + g * kPieceRows, static_cast<size_t>(W.rows));
  } else if (k.kind == ProductPlan::Kind::Grouped) {
    k.gemm(W.row(r0), W.row_stride, nr, p.act, p.act_stride, n, W.cols, Y + r0, static_cast<size_t>(W.rows));
  } else if (k.kind == ProductPlan::Kind::RowDot) {
    for (int64_t t = 0; t < n; ++t) k.row(W.row(r0), W.row_stride, nr, p.act + t * p.act_stride, W.cols, Y + t * W.rows + r0);
  } else {  // no direct kernel: dequantize each row once, then float dots for every token
    std::vector<float> row(static_cast<size_t>(W.cols));
    for (int64_t r = r0; r < r1; ++r) {
      row_to_float(W, r, row.data());
      for (int64_t t = 0; t < n; ++t) Y[t * W.rows + r] = dot_f32(row.data(), p.job->X + t * W.cols, W.cols);
    }
  }
}

// Quantizes every job's input rows that no earlier job already provides, in one parallel pass.
void prepare_activations(std::vector<Plan>& plans, std::vector<std::unique_ptr<uint8_t[]>>& bufs) {
  std::vector<std::pair<Plan*, int64_t>> rows;  // (job, token) still to quantize
  for (size_t i = 0; i < plans.size(); ++i) {
    Plan& p = plans[i];
    const MatmulJob& j = *p.job;
    const ActFormat fmt = p.kernel.act;
    if (fmt == ActFormat::None) continue;
    p.act_stride = act_bytes(fmt, j.W.cols);
    if (fmt == ActFormat::F32) {
      p.act = reinterpret_cast<const uint8_t*>(j.X);
      continue;
    }
    // The same input in the same format (gate and up of one expert) is quantized once.
    for (size_t k = 0; k < i && !p.act; ++k)
      if (plans[k].job->X == j.X && plans[k].job->n == j.n && plans[k].kernel.act == fmt && plans[k].job->W.cols == j.W.cols)
        p.act = plans[k].act;
    if (p.act) continue;
    bufs.emplace_back(new uint8_t[p.act_stride * j.n]);
    p.act = p.own_act = bufs.back().get();
    for (int64_t t = 0; t < j.n; ++t) rows.push_back({&p, t});
  }
  auto quantize = [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const Plan& p = *rows[i].first;
      const int64_t t = rows[i].second, cols = p.job->W.cols;
      quantize_act(p.kernel.act, p.job->X + t * cols, p.own_act + t * p.act_stride, cols);
    }
  };
  if (rows.size() > 8) global_pool().parallel_for(static_cast<int64_t>(rows.size()), quantize);
  else quantize(0, static_cast<int64_t>(rows.size()), 0);
}

}  // namespace

void matmul_many(const std::vector<MatmulJob>& jobs) {
  std::vector<Plan> plans(jobs.size());
  int64_t units = 0, pieces = 0, max_n = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    Plan& p = plans[i];
    p.job = &jobs[i];
    p.kernel = plan_product(jobs[i].W, jobs[i].n, Threading::Pool);
    // Pieces are dealt out by cost (tokens × stored bytes per row), so experts with more routed
    // tokens, or a shared expert stored in fewer bits than the routed ones, do not leave one thread
    // finishing alone.
    p.first_unit = units;
    p.pieces = jobs[i].n > 0 ? (jobs[i].W.rows + kPieceRows - 1) / kPieceRows : 0;
    p.unit_per_piece = std::max<int64_t>(1, jobs[i].n * static_cast<int64_t>(jobs[i].W.row_stride) / 32);
    units += p.pieces * p.unit_per_piece;
    pieces += p.pieces;
    max_n = std::max(max_n, jobs[i].n);
  }
  std::vector<std::unique_ptr<uint8_t[]>> bufs;
  prepare_activations(plans, bufs);
  // Chunks of at least min_claim_groups average pieces (a piece is one group).
  const int64_t min_chunk = pieces > 0 ? min_claim_groups(max_n) * (units / pieces) : 1;
  global_pool().parallel_for_dynamic(units, [&](int64_t b, int64_t e, int) {
    // A thread runs the pieces whose first unit falls in [b, e).
    size_t i = static_cast<size_t>(std::upper_bound(plans.begin(), plans.end(), b, [](int64_t v, const Plan& p) {
                                     return v < p.first_unit;
                                   }) - plans.begin()) - 1;
    for (; i < plans.size() && plans[i].first_unit < e; ++i) {
      const Plan& p = plans[i];
      const int64_t lo = std::max<int64_t>(0, (b - p.first_unit + p.unit_per_piece - 1) / p.unit_per_piece);
      const int64_t hi = std::min(p.pieces, (e - p.first_unit + p.unit_per_piece - 1) / p.unit_per_piece);
      if (lo < hi) run_pieces(p, lo, hi);
    }
  }, min_chunk);
}

}  // namespace qs
