#include "kernels/attention_tiles.h"

#include <algorithm>
#include <cmath>

#include "kernels/vec_exp.h"

namespace qs {

namespace {

void scores_tile_scalar(const float* Q, size_t q_stride, int nq, const float* Kt, size_t kt_stride, int ns, int dk,
                        float scale, float* S, size_t s_stride) {
  for (int i = 0; i < nq; ++i) {
    float* s = S + i * s_stride;
    std::fill(s, s + ns, 0.f);
    for (int d = 0; d < dk; ++d) {
      const float q = Q[i * q_stride + d];
      const float* k = Kt + d * kt_stride;
      for (int j = 0; j < ns; ++j) s[j] += q * k[j];
    }
    for (int j = 0; j < ns; ++j) s[j] *= scale;
  }
}

void pv_tile_scalar(const float* P, size_t p_stride, int nq, const float* V, size_t v_stride, int ns, int dv, float* O,
                    size_t o_stride) {
  for (int i = 0; i < nq; ++i)
    for (int j = 0; j < ns; ++j) {
      const float p = P[i * p_stride + j];
      if (p == 0.f) continue;
      for (int c = 0; c < dv; ++c) O[i * o_stride + c] += p * V[j * v_stride + c];
    }
}

}  // namespace

ScoresTileFn scores_tile_kernel(SimdLevel level) {
  return level >= SimdLevel::Avx512 ? scores_tile_avx512() : scores_tile_scalar;
}

PvTileFn pv_tile_kernel(SimdLevel level) { return level >= SimdLevel::Avx512 ? pv_tile_avx512() : pv_tile_scalar; }

void fold_scores(float* p, int vis, float& m, float& l, float* o, int dv) {
  float mx = m;
  for (int j = 0; j < vis; ++j) mx = std::max(mx, p[j]);
  const float corr = std::exp(m - mx);  // 0 on the first chunk (m = -inf)
  const float sum = exp_shift_sum_kernel()(p, vis, mx);
  m = mx;
  l = l * corr + sum;
  if (corr != 1.f)
    for (int c = 0; c < dv; ++c) o[c] *= corr;
}

namespace {

// Moves the masked-out scores of one row far below its visible maximum, so that their exponentials
// vanish (they are then zeroed exactly); false when the row sees no key of this chunk.
bool mask_row(float* p, int vis, const uint8_t* mask) {
  float mx = -INFINITY;
  for (int j = 0; j < vis; ++j)
    if (mask[j]) mx = std::max(mx, p[j]);
  if (mx == -INFINITY) return false;
  for (int j = 0; j < vis; ++j)
    if (!mask[j]) p[j] = mx - 1000.f;
  return true;
}

}  // namespace

void attend_tile(const float* Q, size_t q_stride, int nq, int q_pos0, const float* Kt, size_t kt_stride,
                 const float* V, size_t v_stride, int ns, int k_pos0, int dk, int dv, float scale,
                 const OnlineSoftmax& st, float* scratch, const uint8_t* mask, size_t mask_stride) {
  // Keys past the chunk's last visible position cost nothing: trim the chunk to the last query's view.
  ns = std::min(ns, q_pos0 + nq - k_pos0);
  if (ns <= 0) return;
  scores_tile_kernel()(Q, q_stride, nq, Kt, kt_stride, ns, dk, scale, scratch, static_cast<size_t>(ns));
  for (int i = 0; i < nq; ++i) {
    float* p = scratch + static_cast<size_t>(i) * ns;
    const int vis = std::min(ns, q_pos0 + i - k_pos0 + 1);  // causal: a prefix of the chunk
    if (vis <= 0) {
      std::fill(p, p + ns, 0.f);
      continue;
    }
    if (mask && !mask_row(p, vis, mask + static_cast<size_t>(i) * mask_stride)) {
      std::fill(p, p + ns, 0.f);
      continue;
    }
    fold_scores(p, vis, st.m[i], st.l[i], st.O + i * st.o_stride, dv);
    if (mask)
      for (int j = 0; j < vis; ++j) p[j] = mask[static_cast<size_t>(i) * mask_stride + j] ? p[j] : 0.f;
    std::fill(p + vis, p + ns, 0.f);
  }
  pv_tile_kernel()(scratch, static_cast<size_t>(ns), nq, V, v_stride, ns, dv, st.O, st.o_stride);
}

void finish_online_softmax(const OnlineSoftmax& st, int nq, int dv) {
  for (int i = 0; i < nq; ++i) {
    if (st.l[i] <= 0.f) continue;
    const float inv = 1.f / st.l[i];
    float* o = st.O + i * st.o_stride;
    for (int c = 0; c < dv; ++c) o[c] *= inv;
  }
}

}  // namespace qs
