// AVX-512 latent attention for 16 heads in the lanes (see latent_heads.h). Both products broadcast
// one cache value per multiply-add straight from memory (an embedded broadcast), so a pass over R
// rows or columns keeps R accumulators of 16 heads and loads one 16-head vector per step. A whole
// chunk (scores, softmax, sums) runs at 87–94 G multiply-adds/s on one Zen 5 core whose FMA peak
// measures 117–120; tiles of 4 heads × 4 rows with horizontal sums had reached 70 on the scores.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "kernels/exp16_avx512.h"
#include "kernels/latent_heads.h"
#include "kernels/prefetch.h"
#include "kernels/target.h"

namespace qs {

namespace {

// Rows per scoring pass (8 accumulators keep both FMA pipes busy), columns per weighted-sum pass (one
// 64-byte line of every row; 8% faster than 8 columns in the chunk microbenchmark).
constexpr int kScoreRows = 8;
constexpr int kSumColumns = 16;

// scratch[j] = scale · Σ_d qT[d] · K[j][d] for R rows starting at K.
template <int R>
QS_TARGET_AVX512F inline void score_rows(const float* qT, int dk, const float* K, size_t k_stride, __m512 scale,
                                         float* scratch) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int d = 0; d < dk; ++d) {
    const __m512 q = _mm512_loadu_ps(qT + d * kLatentLanes);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(q, _mm512_set1_ps(K[r * k_stride + d]), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(scratch + r * kLatentLanes, _mm512_mul_ps(acc[r], scale));
}

// oT[d] += Σ_j p[j] · K[j][d] for R columns starting at d0.
template <int R>
QS_TARGET_AVX512F inline void sum_columns(const float* p, int ns, const float* K, size_t k_stride, int d0, float* oT) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_loadu_ps(oT + (d0 + r) * kLatentLanes);
  const float* k = K + d0;
  for (int j = 0; j < ns; ++j, k += k_stride) {
    const __m512 pj = _mm512_loadu_ps(p + j * kLatentLanes);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(pj, _mm512_set1_ps(k[r]), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(oT + (d0 + r) * kLatentLanes, acc[r]);
}

// The last few rows or columns of a pass: one instantiation per count, so none runs one long chain.
template <template <int> class F, typename... A>
QS_TARGET_AVX512F inline void tail(int n, A... a) {
  switch (n) {
    case 1: return F<1>::run(a...);
    case 2: return F<2>::run(a...);
    case 3: return F<3>::run(a...);
    case 4: return F<4>::run(a...);
    case 5: return F<5>::run(a...);
    case 6: return F<6>::run(a...);
    case 7: return F<7>::run(a...);
    default: return;
  }
}
template <int R>
struct ScoreRows {
  QS_TARGET_AVX512F static void run(const float* qT, int dk, const float* K, size_t k_stride, __m512 scale, float* s) {
    score_rows<R>(qT, dk, K, k_stride, scale, s);
  }
};
template <int R>
struct SumColumns {
  QS_TARGET_AVX512F static void run(const float* p, int ns, const float* K, size_t k_stride, int d0, float* oT) {
    sum_columns<R>(p, ns, K, k_stride, d0, oT);
  }
};

QS_TARGET_AVX512F void latent_chunk(const float* qT, int dk, const float* K, size_t k_stride, int ns, int dc, float scale,
                                    float* scratch, const LatentHeadsState& st, PrefetchTrail* next) {
  const __m512 sc = _mm512_set1_ps(scale);
  // The next chunk's lines spread over this chunk's blocks of rows.
  const int blocks = ns / kScoreRows, lines = next && blocks ? static_cast<int>((next->left + 63) / 64 / blocks + 1) : 0;
  int j = 0;
  for (; j + kScoreRows <= ns; j += kScoreRows) {
    if (lines) prefetch_later_step(*next, lines);
    score_rows<kScoreRows>(qT, dk, K + j * k_stride, k_stride, sc, scratch + j * kLatentLanes);
  }
  tail<ScoreRows>(ns - j, qT, dk, K + j * k_stride, k_stride, sc, scratch + j * kLatentLanes);

  // The online softmax, 16 heads per instruction.
  const __m512 m_old = _mm512_loadu_ps(st.m);
  __m512 mx = m_old;
  for (j = 0; j < ns; ++j) mx = _mm512_max_ps(mx, _mm512_loadu_ps(scratch + j * kLatentLanes));
  const __m512 corr = exp16(_mm512_sub_ps(m_old, mx));  // 0 on the first chunk (m = -inf)
  __m512 sum = _mm512_setzero_ps();
  for (j = 0; j < ns; ++j) {
    const __m512 p = exp16(_mm512_sub_ps(_mm512_loadu_ps(scratch + j * kLatentLanes), mx));
    _mm512_storeu_ps(scratch + j * kLatentLanes, p);
    sum = _mm512_add_ps(sum, p);
  }
  _mm512_storeu_ps(st.l, _mm512_fmadd_ps(_mm512_loadu_ps(st.l), corr, sum));
  _mm512_storeu_ps(st.m, mx);
  if (_mm512_cmp_ps_mask(corr, _mm512_set1_ps(1.f), _CMP_NEQ_UQ) != 0)
    for (int d = 0; d < dc; ++d)
      _mm512_storeu_ps(st.oT + d * kLatentLanes, _mm512_mul_ps(_mm512_loadu_ps(st.oT + d * kLatentLanes), corr));

  int d = 0;
  for (; d + kSumColumns <= dc; d += kSumColumns) sum_columns<kSumColumns>(scratch, ns, K, k_stride, d, st.oT);
  for (; d + 8 <= dc; d += 8) sum_columns<8>(scratch, ns, K, k_stride, d, st.oT);
  tail<SumColumns>(dc - d, static_cast<const float*>(scratch), ns, K, k_stride, d, st.oT);
}

}  // namespace

LatentChunkFn latent_chunk_avx512() { return latent_chunk; }

}  // namespace qs
