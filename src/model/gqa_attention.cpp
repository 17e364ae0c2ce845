// Grouped-query attention for the dense R1-Distill bases (Qwen2 with q/k/v biases, Llama without).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cache_rows.h"
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

void gqa_attention(const ModelConfig& c, const LayerWeights& w, const Rope& rope, const std::vector<SeqSpan>& spans,
                   int il, const float* X, int n, float* out) {
  const int H = c.n_head, Hkv = c.n_head_kv, dk = c.head_dim_k, dv = c.head_dim_v;
  std::vector<float> Q(static_cast<size_t>(n) * H * dk), K(static_cast<size_t>(n) * Hkv * dk),
      V(static_cast<size_t>(n) * Hkv * dv);
  project(w.wq, w.bq, X, n, Q.data());
  project(w.wk, w.bk, X, n, K.data());
  project(w.wv, w.bv, X, n, V.data());
  // Per token: its sequence's cache and absolute position.
  std::vector<KvCache*> tok_cache(n);
  std::vector<int> tok_pos(n);
  for (const SeqSpan& sp : spans) {
    for (int i = 0; i < sp.count; ++i) {
      const int t = sp.start + i, pos = sp.pos0 + i;
      tok_cache[t] = sp.cache;
      tok_pos[t] = pos;
      rope.apply(&Q[static_cast<size_t>(t) * H * dk], pos, H, static_cast<size_t>(dk));
      rope.apply(&K[static_cast<size_t>(t) * Hkv * dk], pos, Hkv, static_cast<size_t>(dk));
      sp.cache->store_k(il, pos, &K[static_cast<size_t>(t) * Hkv * dk]);
      sp.cache->store_v(il, pos, &V[static_cast<size_t>(t) * Hkv * dv]);
    }
  }
  int max_ctx = 0;
  for (int p : tok_pos) max_ctx = std::max(max_ctx, p + 1);

  const float scale = c.attn_scale();
  const int group = H / Hkv;
  std::vector<float> O(static_cast<size_t>(n) * H * dv);
  global_pool().parallel_for(int64_t{n} * H, [&](int64_t b, int64_t e, int) {
    std::vector<float> scores(static_cast<size_t>(max_ctx));
    for (int64_t job = b; job < e; ++job) {
      // Head-major: causal work grows with t, so each thread's contiguous share mixes early and late tokens.
      const int t = static_cast<int>(job % n), h = static_cast<int>(job / n), hk = h / group;
      const float* q = &Q[(static_cast<size_t>(t) * H + h) * dk];
      const KvCache& cache = *tok_cache[t];
      const int n_vis = tok_pos[t] + 1;
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
