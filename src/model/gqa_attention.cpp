// Grouped-query attention for the dense R1-Distill bases (Qwen2 with q/k/v biases, Llama without).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "model/attention.h"

namespace qs {

namespace {

void project(const MatView& W, const std::vector<float>& bias, const float* X, int n, float* Y) {
  matmul(W, X, n, Y);
  if (bias.empty()) return;
  for (int t = 0; t < n; ++t) axpy_f32(1.f, bias.data(), Y + static_cast<size_t>(t) * W.rows, W.rows);
}

}  // namespace

void gqa_attention(const ModelConfig& c, const LayerWeights& w, const Rope& rope, KvCache& cache, int il,
                   const float* X, int n, int pos0, float* out) {
  const int H = c.n_head, Hkv = c.n_head_kv, dk = c.head_dim_k, dv = c.head_dim_v;
  std::vector<float> Q(static_cast<size_t>(n) * H * dk), K(static_cast<size_t>(n) * Hkv * dk),
      V(static_cast<size_t>(n) * Hkv * dv);
  project(w.wq, w.bq, X, n, Q.data());
  project(w.wk, w.bk, X, n, K.data());
  project(w.wv, w.bv, X, n, V.data());
  for (int t = 0; t < n; ++t) {
    for (int h = 0; h < H; ++h) rope.apply(&Q[(static_cast<size_t>(t) * H + h) * dk], pos0 + t);
    for (int h = 0; h < Hkv; ++h) rope.apply(&K[(static_cast<size_t>(t) * Hkv + h) * dk], pos0 + t);
    cache.store_k(il, pos0 + t, &K[static_cast<size_t>(t) * Hkv * dk]);
    cache.store_v(il, pos0 + t, &V[static_cast<size_t>(t) * Hkv * dv]);
  }

  const float scale = c.attn_scale();
  const int group = H / Hkv;
  std::vector<float> O(static_cast<size_t>(n) * H * dv);
  global_pool().parallel_for(int64_t{n} * H, [&](int64_t b, int64_t e, int) {
    std::vector<float> scores(static_cast<size_t>(pos0 + n));
    for (int64_t job = b; job < e; ++job) {
      const int t = static_cast<int>(job / H), h = static_cast<int>(job % H), hk = h / group;
      const float* q = &Q[(static_cast<size_t>(t) * H + h) * dk];
      const int n_vis = pos0 + t + 1;
      rows_dot_st(cache.k_view(il, n_vis, hk * dk, dk), q, scores.data());
      for (int s = 0; s < n_vis; ++s) scores[s] *= scale;
      softmax_inplace(scores.data(), n_vis);
      float* o = &O[(static_cast<size_t>(t) * H + h) * dv];
      std::fill(o, o + dv, 0.f);
      rows_weighted_sum_st(cache.v_view(il, n_vis, hk * dv, dv), scores.data(), o);
    }
  });
  matmul(w.wo, O.data(), n, out);
}

}  // namespace qs
