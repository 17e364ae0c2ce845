// Products of a weight matrix (any storable type) with float activations.
// Weights stay in their file type; rows are dequantized on the fly with F32 accumulation.
#pragma once
#include <cstdint>
#include <vector>

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
// rows_dot_st in two steps, for one query against many row sets of the same type and width (the
// cache in chunks): x in that format (x itself, or quantized into buf), then the dot products.
const void* rows_query(const MatView& rows, const float* x, std::vector<uint8_t>& buf);
void rows_dot_prepared_st(const MatView& rows, const void* query, float* y);
// out[c] += Σ_r w[r] · rows[r][c]  (attention's weighted sum of cached values).
void rows_weighted_sum_st(const MatView& rows, const float* w, float* out);
// Y[t][r] = W[r] · X[t] for t < n; X rows have W.cols floats, Y rows have W.rows floats.
void matmul(const MatView& W, const float* X, int64_t n, float* Y);

// Batches of n tokens on other quantized formats run the Q8x16 kernel on 16-row groups converted
// on the fly (one conversion shared by the whole batch) when this says so.
bool convertible_to_q8x16(const MatView& W, int64_t n);
// Group g (rows 16g..16g+15) of W converted to Q8x16, in a per-thread buffer valid until the next call.
const uint8_t* q8x16_group_of(const MatView& W, int64_t g);

}  // namespace qs
