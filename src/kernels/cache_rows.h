// Products over rows of the KV cache (attention's scores and weighted sums), single-threaded: the
// attention code parallelises over heads itself. The rows are in the cache's type (F16, BF16, Q8_0,
// F32), always in the file layout.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/mat_view.h"

namespace qs {

struct PrefetchTrail;  // prefetch.h

// y[r] = rows[r] · x with whatever activation format the rows' type needs.
void rows_dot_st(const MatView& rows, const float* x, float* y);
// rows_dot_st in two steps, for one query against many row sets of the same type and width (the
// cache in chunks): x in that format (x itself, or quantized into buf), then the dot products.
const void* rows_query(const MatView& rows, const float* x, std::vector<uint8_t>& buf);
void rows_dot_prepared_st(const MatView& rows, const void* query, float* y);
// Rows [r0, r0 + nr) as floats, one after another (rows.cols each). F16, BF16 and Q8_0 have AVX-512
// kernels; other types go through the reference dequantization.
void rows_to_float_st(const MatView& rows, int64_t r0, int64_t nr, float* out);
using RowsToFloatFn = void (*)(const uint8_t* rows, size_t stride, int64_t nr, int64_t n, float* out);
RowsToFloatFn rows_to_float_avx512(GgmlType t);  // nullptr for types without one
// out[c] += Σ_r w[r] · rows[r][c]; `next` (may be null): rows the caller reads next, to prefetch.
void rows_weighted_sum_st(const MatView& rows, const float* w, float* out, PrefetchTrail* next = nullptr);

}  // namespace qs
