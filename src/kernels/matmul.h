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
// Y[t][r] = W[r] · X[t] for t < n; X rows have W.cols floats, Y rows have W.rows floats.
void matmul(const MatView& W, const float* X, int64_t n, float* Y);

}  // namespace qs
