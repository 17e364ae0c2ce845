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
// out[c] += Σ_r w[r] · rows[r][c]; `next` (may be null): rows the caller reads next, to prefetch.
void rows_weighted_sum_st(const MatView& rows, const float* w, float* out, PrefetchTrail* next = nullptr);

}  // namespace qs
