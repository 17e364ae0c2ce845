#include "model/dsa_indexer.h"

#include <algorithm>
#include <cmath>

#include "kernels/float_matmul.h"
#include "kernels/index_scores.h"
#include "kernels/thread_pool.h"

namespace qs {

namespace {

void layer_norm(float* x, const float* weight, const float* bias, int n, float eps) {
  double mean = 0, var = 0;
  for (int i = 0; i < n; ++i) mean += x[i];
  mean /= n;
  for (int i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double inv = 1.0 / std::sqrt(var / n + eps);
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>((x[i] - mean) * inv) * weight[i] + bias[i];
}

// Cached keys scored per job: enough work to amortise a job, small enough to spread one decode
// token's scoring over every thread.
constexpr int kScoreChunk = 512;

}  // namespace

std::vector<int32_t> top_k_positions(const float* scores, int n, int k) {
  // The k-th largest score by selection on a copy of the values (no index indirection), then one
  // pass in position order: everything above it, and as many equal to it as fit, earliest first.
  std::vector<float> v(scores, scores + n);
  std::nth_element(v.begin(), v.begin() + (n - k), v.end());
  const float kth = v[static_cast<size_t>(n - k)];
  int above = 0;
  for (int j = 0; j < n; ++j) above += scores[j] > kth;
  int ties = k - above;
  std::vector<int32_t> idx;
  idx.reserve(static_cast<size_t>(k));
  for (int j = 0; j < n; ++j)
    if (scores[j] > kth || (scores[j] == kth && ties-- > 0)) idx.push_back(j);
  return idx;
}

KeySelection select_keys(const ModelConfig& c, const LayerWeights& w, const Rope& rope, const std::vector<SeqSpan>& spans,
                         int il, const float* X, const float* qr, int n) {
  const int ih = c.idx_n_head, id = c.idx_head_dim;
  // Keys: every token's goes into its cache, whether or not any query of this batch scores it yet.
  std::vector<float> K(static_cast<size_t>(n) * id);
  matmul_float_act(w.idx_wk, X, n, K.data());
  std::vector<int> pos(static_cast<size_t>(n));
  std::vector<const KvCache*> cache_of(static_cast<size_t>(n));
  for (const SeqSpan& sp : spans)
    for (int i = 0; i < sp.count; ++i) {
      const int t = sp.start + i;
      pos[t] = sp.pos0 + i;
      cache_of[t] = sp.cache;
      float* k = &K[static_cast<size_t>(t) * id];
      layer_norm(k, w.idx_k_norm.data(), w.idx_k_norm_b.data(), id, c.idx_norm_eps);
      rope.apply(k, pos[t], 1, 0, RopeStyle::NeoX);
      sp.cache->store_index_key(il, pos[t], k);
    }

  KeySelection sel;
  bool any = false;
  for (int t = 0; t < n; ++t) any = any || pos[t] + 1 > c.idx_top_k;
  if (!any) return sel;  // short contexts: dense, the queries are never needed

  std::vector<float> Q(static_cast<size_t>(n) * ih * id), W(static_cast<size_t>(n) * ih);
  matmul_float_act(w.idx_wq_b, qr, n, Q.data());
  matmul_float_act(w.idx_proj, X, n, W.data());
  const float wscale = 1.f / std::sqrt(static_cast<float>(ih) * static_cast<float>(id));

  // Sparse tokens, their prepared queries and their score rows; jobs are (token, key range) pairs.
  struct Job {
    int t, s0, ns;
  };
  std::vector<Job> jobs;
  std::vector<IndexQuery> queries(static_cast<size_t>(n));
  std::vector<std::vector<float>> scores(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) {
    if (pos[t] + 1 <= c.idx_top_k) continue;
    float* q = &Q[static_cast<size_t>(t) * ih * id];
    rope.apply(q, pos[t], ih, static_cast<size_t>(id), RopeStyle::NeoX);
    float* wt = &W[static_cast<size_t>(t) * ih];
    for (int h = 0; h < ih; ++h) wt[h] *= wscale;
    queries[t] = prepare_index_query(q, wt, ih, id);
    scores[t].resize(static_cast<size_t>(pos[t]) + 1);
    for (int s0 = 0; s0 <= pos[t]; s0 += kScoreChunk) jobs.push_back({t, s0, std::min(kScoreChunk, pos[t] + 1 - s0)});
  }
  global_pool().parallel_for_dynamic(static_cast<int64_t>(jobs.size()), [&](int64_t b, int64_t e, int) {
    for (int64_t j = b; j < e; ++j) {
      const Job& job = jobs[static_cast<size_t>(j)];
      const MatView keys = cache_of[job.t]->index_view(il, job.s0 + job.ns).slice_rows(job.s0, job.ns);
      index_scores_st(keys, queries[job.t], &scores[job.t][static_cast<size_t>(job.s0)]);
    }
  });
  sel.rows.resize(static_cast<size_t>(n));
  global_pool().parallel_for(n, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t)
      if (!scores[t].empty()) sel.rows[t] = top_k_positions(scores[t].data(), pos[t] + 1, c.idx_top_k);
  });
  return sel;
}

}  // namespace qs
