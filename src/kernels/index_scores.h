// The DSA lightning indexer's scores (DeepSeek-V3.2): how much each cached position matters to a
// query, from which MLA keeps only the top k. Per query, n_head small heads score every cached key:
//   score[j] = Σ_h w[h] · max(0, q[h] · K[j])
// Decode scores the whole history per token and layer (V3.2: 64 heads × 128 dims per key), so this
// is the indexer's hot loop. A scalar reference and an AVX-512 version chosen at run time.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu_features.h"
#include "tensor/mat_view.h"

namespace qs {

// Widest key the kernels read directly (V3.2: 128); wider ones go through a float copy.
constexpr int kIndexMaxDirectDim = 512;

// One query prepared for the kernels: q transposed to [dk][hp] and w, both zero-padded to hp heads
// (a multiple of 16), so that every key value meets all heads' query values in one vector.
struct IndexQuery {
  int dk = 0;
  int hp = 0;
  std::vector<float> qT;  // [dk][hp]
  std::vector<float> w;   // [hp]
};
IndexQuery prepare_index_query(const float* q, const float* w, int n_head, int dk);

// scores[j] for j < nk; key j at K + j·row_stride, dk values in F32 or F16 (the cache's types).
using IndexScoresFn = void (*)(const uint8_t* K, size_t row_stride, bool f16, int nk, const IndexQuery& q, float* scores);
IndexScoresFn index_scores_kernel(SimdLevel level);
inline IndexScoresFn index_scores_kernel() { return index_scores_kernel(active_simd_level()); }
IndexScoresFn index_scores_avx512();  // only handed out when the CPU has AVX-512

// The scores of keys stored in any cache type (F32 and F16 read directly, others converted to float
// in small chunks), single-threaded: the indexer parallelises over queries and key ranges itself.
void index_scores_st(const MatView& keys, const IndexQuery& q, float* scores);

}  // namespace qs
