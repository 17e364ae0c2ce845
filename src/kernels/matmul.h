// Products of a weight matrix (any storable type) with float activations.
// Weights stay in their file type; rows are dequantized on the fly with F32 accumulation.
#pragma once
#include <cstdint>

#include "tensor/mat_view.h"

namespace qs {

// y[r] = W[r] · x, rows split over the global thread pool.
void matvec(const MatView& W, const float* x, float* y);
// Single-threaded variants with float activations, for callers that already parallelise (MLA heads).
void matvec_st(const MatView& W, const float* x, float* y);
// y[c] = Σ_r x[r] · W[r][c]  (the transposed product), single-threaded.
void matvec_t_st(const MatView& W, const float* x, float* y);
// y[r] = rows[r] · x with whatever activation format the rows' type needs (KV cache reads).
void rows_dot_st(const MatView& rows, const float* x, float* y);
// out[c] += Σ_r w[r] · rows[r][c]  (attention's weighted sum of cached values).
void rows_weighted_sum_st(const MatView& rows, const float* w, float* out);
// Y[t][r] = W[r] · X[t] for t < n; X rows have W.cols floats, Y rows have W.rows floats.
void matmul(const MatView& W, const float* X, int64_t n, float* Y);

}  // namespace qs
