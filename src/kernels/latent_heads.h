// Absorbed MLA attention over one chunk of the latent cache for up to 16 heads of one token, the
// heads in the vector lanes (lane i = head i): one query value per head times one broadcast cache
// value per multiply-add, so there are no horizontal sums, and the online softmax (max, exp, sums,
// rescaling) runs on all 16 heads per instruction. Decode spends most of its attention here.
// A scalar reference and an AVX-512 version, chosen at run time.
#pragma once
#include <cstddef>

#include "kernels/cpu_features.h"

namespace qs {

struct PrefetchTrail;  // prefetch.h

constexpr int kLatentLanes = 16;

// The online-softmax state of a group of heads, carried from chunk to chunk: m[16] the largest score
// seen (start at -inf), l[16] the sum of exp(score − m) (start at 0), oT[dc][16] the unnormalised
// output in latent space, transposed (start at 0).
struct LatentHeadsState {
  float* m;
  float* l;
  float* oT;
};

// qT: the group's latent queries transposed, [dk][16] (lanes without a head hold zeros). K: ns cache
// rows as float, k_stride apart, each [c_kv (dc values) | k_pe]. For each lane i:
//   s_j = scale · Σ_d qT[d][i] · K[j][d],  then the state absorbs the chunk:
//   m' = max(m, max_j s_j),  l = l·e^(m−m') + Σ_j e^(s_j−m'),  oT[d] = oT[d]·e^(m−m') + Σ_j e^(s_j−m')·K[j][d].
// scratch holds 16·ns floats. `next` (may be null): the cache bytes read after this chunk, requested
// a few lines per block of rows so that they arrive while this chunk computes (prefetch.h).
using LatentChunkFn = void (*)(const float* qT, int dk, const float* K, size_t k_stride, int ns, int dc, float scale,
                               float* scratch, const LatentHeadsState& st, PrefetchTrail* next);

LatentChunkFn latent_chunk_kernel(SimdLevel level);
inline LatentChunkFn latent_chunk_kernel() { return latent_chunk_kernel(active_simd_level()); }
LatentChunkFn latent_chunk_avx512();  // only handed out when the CPU has AVX-512

}  // namespace qs
