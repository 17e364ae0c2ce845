// Blocked causal attention for long prefills: a tile of queries against a chunk of keys as two
// small matrix products (scores, then probabilities × values) with an online softmax between
// them, so every key and value row is read once per tile of queries instead of once per query.
// Each product has a scalar reference and an AVX-512 version chosen at run time.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"

namespace qs {

// S[i·s_stride + j] = scale · Σ_d Q[i·q_stride + d] · Kt[d·kt_stride + j]   (i < nq, j < ns, d < dk).
// Kt is the key chunk transposed: one row per dimension, one column per key.
using ScoresTileFn = void (*)(const float* Q, size_t q_stride, int nq, const float* Kt, size_t kt_stride, int ns,
                              int dk, float scale, float* S, size_t s_stride);
// O[i·o_stride + c] += Σ_j P[i·p_stride + j] · V[j·v_stride + c]   (i < nq, j < ns, c < dv).
using PvTileFn = void (*)(const float* P, size_t p_stride, int nq, const float* V, size_t v_stride, int ns, int dv,
                          float* O, size_t o_stride);

ScoresTileFn scores_tile_kernel(SimdLevel level);
PvTileFn pv_tile_kernel(SimdLevel level);
inline ScoresTileFn scores_tile_kernel() { return scores_tile_kernel(active_simd_level()); }
inline PvTileFn pv_tile_kernel() { return pv_tile_kernel(active_simd_level()); }
ScoresTileFn scores_tile_avx512();  // nullptr-free: only called when the CPU has AVX-512
PvTileFn pv_tile_avx512();

// Running state of an online softmax for nq query rows: the output rows (unnormalised until
// finish), the largest score seen and the sum of exp(score - max) per row.
struct OnlineSoftmax {
  float* O;
  size_t o_stride;
  float* m;  // start at -inf
  float* l;  // start at 0
};

// One query's scores p[0, vis) (already scaled) folded into its online-softmax state: p becomes
// exp(p − m') with m' the new running max, the sum l and the output row o (dv floats) are rescaled
// by exp(m − m'), and m becomes m'. The caller then adds Σ p[j]·V[j] to o.
void fold_scores(float* p, int vis, float& m, float& l, float* o, int dv);

// Folds one key chunk into the state. Query i sits at position q_pos0 + i and sees keys at
// positions ≤ its own; the chunk's key j sits at k_pos0 + j. `scratch` holds nq·ns floats.
// Q rows have dk floats (q_stride apart), Kt is [dk][kt_stride], V rows have dv floats.
// `mask` (may be null; sparse attention): query i sees key j only where mask[i·mask_stride + j] != 0.
void attend_tile(const float* Q, size_t q_stride, int nq, int q_pos0, const float* Kt, size_t kt_stride,
                 const float* V, size_t v_stride, int ns, int k_pos0, int dk, int dv, float scale,
                 const OnlineSoftmax& st, float* scratch, const uint8_t* mask = nullptr, size_t mask_stride = 0);
// Divides each output row by its softmax sum (rows that saw no key are left at zero).
void finish_online_softmax(const OnlineSoftmax& st, int nq, int dv);

}  // namespace qs
