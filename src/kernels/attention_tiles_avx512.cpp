// AVX-512 tiles for blocked attention (see attention_tiles.h). Per-function target attributes: the
// binary still runs on CPUs without AVX-512, and these are only handed out when the CPU has it.
#include <immintrin.h>

#include "kernels/attention_tiles.h"
#include "kernels/target.h"


namespace qs {

namespace {

QS_TARGET_AVX512F inline __mmask16 tail_mask(int n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Up to 4 queries × 32 keys per pass: each key-row load feeds 4 broadcast FMAs.
template <int R>
QS_TARGET_AVX512F inline void scores_rows(const float* Q, size_t q_stride, const float* Kt, size_t kt_stride, int ns, int dk,
                                  float scale, float* S, size_t s_stride) {
  for (int j = 0; j < ns; j += 32) {
    const __mmask16 m0 = tail_mask(ns - j), m1 = tail_mask(ns - j - 16 > 0 ? ns - j - 16 : 0);
    __m512 a0[R], a1[R];
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm512_setzero_ps();
    const float* k = Kt + j;
    for (int d = 0; d < dk; ++d, k += kt_stride) {
      const __m512 k0 = _mm512_maskz_loadu_ps(m0, k), k1 = _mm512_maskz_loadu_ps(m1, k + 16);
      for (int r = 0; r < R; ++r) {
        const __m512 q = _mm512_set1_ps(Q[r * q_stride + d]);
        a0[r] = _mm512_fmadd_ps(q, k0, a0[r]);
        a1[r] = _mm512_fmadd_ps(q, k1, a1[r]);
      }
    }
    const __m512 sc = _mm512_set1_ps(scale);
    for (int r = 0; r < R; ++r) {
      _mm512_mask_storeu_ps(S + r * s_stride + j, m0, _mm512_mul_ps(a0[r], sc));
      _mm512_mask_storeu_ps(S + r * s_stride + j + 16, m1, _mm512_mul_ps(a1[r], sc));
    }
  }
}

QS_TARGET_AVX512F void scores_tile(const float* Q, size_t q_stride, int nq, const float* Kt, size_t kt_stride, int ns, int dk,
                           float scale, float* S, size_t s_stride) {
  int i = 0;
  for (; i + 4 <= nq; i += 4) scores_rows<4>(Q + i * q_stride, q_stride, Kt, kt_stride, ns, dk, scale, S + i * s_stride, s_stride);
  for (; i < nq; ++i) scores_rows<1>(Q + i * q_stride, q_stride, Kt, kt_stride, ns, dk, scale, S + i * s_stride, s_stride);
}

// Up to 4 queries × 64 output columns per pass: each value-row load feeds 4 broadcast FMAs.
template <int R>
QS_TARGET_AVX512F inline void pv_rows(const float* P, size_t p_stride, const float* V, size_t v_stride, int ns, int dv, float* O,
                              size_t o_stride) {
  for (int c = 0; c < dv; c += 64) {
    __mmask16 m[4];
    for (int b = 0; b < 4; ++b) m[b] = tail_mask(dv - c - 16 * b > 0 ? dv - c - 16 * b : 0);
    __m512 acc[R][4];
    for (int r = 0; r < R; ++r)
      for (int b = 0; b < 4; ++b) acc[r][b] = _mm512_maskz_loadu_ps(m[b], O + r * o_stride + c + 16 * b);
    const float* v = V + c;
    for (int j = 0; j < ns; ++j, v += v_stride) {
      __m512 vv[4];
      for (int b = 0; b < 4; ++b) vv[b] = _mm512_maskz_loadu_ps(m[b], v + 16 * b);
      for (int r = 0; r < R; ++r) {
        const __m512 p = _mm512_set1_ps(P[r * p_stride + j]);
        for (int b = 0; b < 4; ++b) acc[r][b] = _mm512_fmadd_ps(p, vv[b], acc[r][b]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int b = 0; b < 4; ++b) _mm512_mask_storeu_ps(O + r * o_stride + c + 16 * b, m[b], acc[r][b]);
  }
}

QS_TARGET_AVX512F void pv_tile(const float* P, size_t p_stride, int nq, const float* V, size_t v_stride, int ns, int dv, float* O,
                       size_t o_stride) {
  int i = 0;
  for (; i + 4 <= nq; i += 4) pv_rows<4>(P + i * p_stride, p_stride, V, v_stride, ns, dv, O + i * o_stride, o_stride);
  for (; i < nq; ++i) pv_rows<1>(P + i * p_stride, p_stride, V, v_stride, ns, dv, O + i * o_stride, o_stride);
}

}  // namespace

ScoresTileFn scores_tile_avx512() { return scores_tile; }
PvTileFn pv_tile_avx512() { return pv_tile; }

}  // namespace qs
