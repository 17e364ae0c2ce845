// Products of a weight matrix (any storable type and layout) with float activations: the kernel and
// the activations' format come from the weight's plan (plan.h). matmul is the one entry for the
// model's products (matmul_many.h runs several at once); the _st variants serve MLA's per-head
// up-projections, whose callers parallelise over heads.
#pragma once
#include <cstdint>

#include "tensor/mat_view.h"

namespace qs {

struct PrefetchTrail;  // prefetch.h

// Single-threaded variants with float activations, for callers that already parallelise (MLA heads).
// `next` (may be null) names the rows the caller reads after these, for the kernels to prefetch once
// past their own (prefetch.h).
void matvec_st(const MatView& W, const float* x, float* y, PrefetchTrail* next = nullptr);
// y[c] = Σ_r x[r] · W[r][c]  (the transposed product), single-threaded.
void matvec_t_st(const MatView& W, const float* x, float* y, PrefetchTrail* next = nullptr);
// Y[t][r] = W[r] · X[t] for t < n; X rows have W.cols floats, Y rows have W.rows floats.
void matmul(const MatView& W, const float* X, int64_t n, float* Y);

}  // namespace qs
