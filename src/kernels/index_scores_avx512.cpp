// AVX-512 indexer scores (see index_scores.h). Lanes are heads: each key value is broadcast against
// 16 heads' query values at once, two keys per pass sharing the query loads, and the ReLU and the
// head weights apply to whole vectors before one horizontal sum per key.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside the intrinsics headers
#include <immintrin.h>

#include <cstring>

#include "kernels/index_scores.h"
#include "kernels/target.h"
#include "tensor/fp16.h"

namespace qs {

namespace {

template <int NB>  // head blocks of 16 per pass
QS_TARGET_AVX512F inline void heads_pass(const float* k0, const float* k1, const IndexQuery& q, int h0, __m512& t0,
                                         __m512& t1) {
  __m512 a0[NB], a1[NB];
  for (int b = 0; b < NB; ++b) a0[b] = a1[b] = _mm512_setzero_ps();
  const float* qd = q.qT.data() + h0;
  for (int d = 0; d < q.dk; ++d, qd += q.hp) {
    const __m512 b0 = _mm512_set1_ps(k0[d]), b1 = _mm512_set1_ps(k1[d]);
    for (int b = 0; b < NB; ++b) {
      const __m512 qv = _mm512_loadu_ps(qd + 16 * b);
      a0[b] = _mm512_fmadd_ps(qv, b0, a0[b]);
      a1[b] = _mm512_fmadd_ps(qv, b1, a1[b]);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int b = 0; b < NB; ++b) {
    const __m512 w = _mm512_loadu_ps(q.w.data() + h0 + 16 * b);
    t0 = _mm512_fmadd_ps(_mm512_max_ps(a0[b], zero), w, t0);  // ReLU, weighted
    t1 = _mm512_fmadd_ps(_mm512_max_ps(a1[b], zero), w, t1);
  }
}

// An F16 key row as floats, 16 at a time (a tail past the last 16 one by one).
QS_TARGET_AVX512F inline void widen_f16(const uint8_t* src, int dk, float* dst) {
  int d = 0;
  for (; d + 16 <= dk; d += 16)
    _mm512_storeu_ps(dst + d, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * d))));
  for (; d < dk; ++d) {
    uint16_t h;
    std::memcpy(&h, src + 2 * d, 2);
    dst[d] = fp16_to_f32(h);
  }
}

QS_TARGET_AVX512F void index_scores_impl(const uint8_t* K, size_t row_stride, bool f16, int nk, const IndexQuery& q,
                                         float* scores) {
  alignas(64) float w0[kIndexMaxDirectDim], w1[kIndexMaxDirectDim];
  for (int j = 0; j < nk; j += 2) {
    const uint8_t* r0 = K + static_cast<size_t>(j) * row_stride;
    const uint8_t* r1 = j + 1 < nk ? r0 + row_stride : r0;
    const float* k0 = reinterpret_cast<const float*>(r0);
    const float* k1 = reinterpret_cast<const float*>(r1);
    if (f16) {
      widen_f16(r0, q.dk, w0);
      widen_f16(r1, q.dk, w1);
      k0 = w0;
      k1 = w1;
    }
    __m512 t0 = _mm512_setzero_ps(), t1 = _mm512_setzero_ps();
    for (int h0 = 0; h0 < q.hp; h0 += 64) {
      switch ((q.hp - h0) / 16) {
        case 1: heads_pass<1>(k0, k1, q, h0, t0, t1); break;
        case 2: heads_pass<2>(k0, k1, q, h0, t0, t1); break;
        case 3: heads_pass<3>(k0, k1, q, h0, t0, t1); break;
        default: heads_pass<4>(k0, k1, q, h0, t0, t1); break;
      }
    }
    scores[j] = _mm512_reduce_add_ps(t0);
    if (j + 1 < nk) scores[j + 1] = _mm512_reduce_add_ps(t1);
  }
}

}  // namespace

IndexScoresFn index_scores_avx512() { return index_scores_impl; }

}  // namespace qs
