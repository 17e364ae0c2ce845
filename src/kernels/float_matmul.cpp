#include "kernels/float_matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/attention_tiles.h"
#include "kernels/matmul.h"
#include "kernels/repack.h"
#include "kernels/thread_pool.h"

namespace qs {

void matmul_float_act(const MatView& W, const float* X, int n, float* Y) {
  constexpr int64_t kRows = 64;
  const int64_t panels = (W.rows + kRows - 1) / kRows;
  if (n == 1) {
    global_pool().parallel_for(panels, [&](int64_t p0, int64_t p1, int) {
      const int64_t r0 = p0 * kRows, r1 = std::min(W.rows, p1 * kRows);
      matvec_st(W.slice_rows(r0, r1 - r0), X, Y + r0);
    });
    return;
  }
  const ScoresTileFn tile = scores_tile_kernel();
  global_pool().parallel_for(panels, [&](int64_t p0, int64_t p1, int) {
    std::vector<float> row(static_cast<size_t>(W.cols)), Wt(static_cast<size_t>(W.cols) * kRows);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t r0 = p * kRows, nr = std::min(kRows, W.rows - r0);
      for (int64_t j = 0; j < nr; ++j) {
        row_to_float(W, r0 + j, row.data());
        for (int64_t d = 0; d < W.cols; ++d) Wt[static_cast<size_t>(d * kRows + j)] = row[d];
      }
      tile(X, static_cast<size_t>(W.cols), n, Wt.data(), kRows, static_cast<int>(nr), static_cast<int>(W.cols), 1.f,
           Y + r0, static_cast<size_t>(W.rows));
    }
  });
}

}  // namespace qs
