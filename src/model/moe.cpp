#include "model/moe.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "kernels/matmul.h"
#include "kernels/matmul_many.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace qs {

namespace {

// Indices of the k largest values; ties go to the lower index (deterministic).
std::vector<int> top_k(const std::vector<float>& v, int k) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  });
  idx.resize(k);
  return idx;
}

// Decode-sized batches: every chosen expert (and the shared one) at once, gate and up of all of them
// in one parallel pass and all the downs in a second, instead of three small passes per expert.
constexpr int kFusedMaxTokens = 16;

struct ExpertWork {
  MatView gate, up, down;
  const std::vector<std::pair<int, float>>* toks;  // (token, weight); weight 1 for the shared expert
  const float* in = nullptr;                       // the batch itself, or its gathered rows
  float *g = nullptr, *u = nullptr, *y = nullptr;  // gate/up outputs (g becomes the SwiGLU), down outputs
};

// True when an expert takes tokens 0..n-1 in order: its input is the batch as it is (always so in
// decode), so nothing is copied and all such experts share one quantized input.
bool whole_batch(const std::vector<std::pair<int, float>>& toks, int n) {
  if (static_cast<int>(toks.size()) != n) return false;
  for (int i = 0; i < n; ++i)
    if (toks[i].first != i) return false;
  return true;
}

void experts_fused(const ModelConfig& c, const LayerWeights& w, const float* X, int n,
                   const std::vector<std::vector<std::pair<int, float>>>& routed, float* out) {
  const int d = c.n_embd;
  std::vector<std::pair<int, float>> all;
  std::vector<ExpertWork> work;
  if (c.n_expert_shared > 0) {
    for (int t = 0; t < n; ++t) all.push_back({t, 1.f});
    work.push_back({w.gate_shexp, w.up_shexp, w.down_shexp, &all});
  }
  for (int e = 0; e < c.n_expert; ++e)
    if (!routed[e].empty()) work.push_back({w.gate_exps.expert(e), w.up_exps.expert(e), w.down_exps.expert(e), &routed[e]});
  // One uninitialized scratch block for every expert's buffers: the kernels overwrite them, and
  // zero-filling ~200 KB of just-evicted lines cost the main thread ~14 µs per MoE layer in decode.
  size_t total = 0;
  for (ExpertWork& x : work) {
    const size_t m = x.toks->size(), f = static_cast<size_t>(x.gate.rows);
    if (whole_batch(*x.toks, n)) x.in = X;
    total += m * (2 * f + d) + (x.in ? 0 : m * d);
  }
  std::unique_ptr<float[]> scratch(new float[total]);
  float* next = scratch.get();
  auto take = [&](size_t count) { float* p = next; next += count; return p; };
  std::vector<MatmulJob> jobs;
  for (ExpertWork& x : work) {
    const int64_t m = static_cast<int64_t>(x.toks->size()), f = x.gate.rows;
    if (!x.in) {  // gather this expert's tokens
      float* gathered = take(static_cast<size_t>(m) * d);
      for (int64_t i = 0; i < m; ++i) std::copy_n(X + static_cast<size_t>((*x.toks)[i].first) * d, d, gathered + i * d);
      x.in = gathered;
    }
    x.g = take(static_cast<size_t>(m * f));
    x.u = take(static_cast<size_t>(m * f));
    x.y = take(static_cast<size_t>(m) * d);
    jobs.push_back({x.gate, x.in, m, x.g});
    jobs.push_back({x.up, x.in, m, x.u});
  }
  matmul_many(jobs);
  jobs.clear();
  for (ExpertWork& x : work) {
    const int64_t m = static_cast<int64_t>(x.toks->size());
    swiglu_inplace(x.g, x.u, m * x.gate.rows);
    jobs.push_back({x.down, x.g, m, x.y});
  }
  matmul_many(jobs);
  std::fill(out, out + static_cast<size_t>(n) * d, 0.f);
  for (const ExpertWork& x : work)
    for (size_t i = 0; i < x.toks->size(); ++i)
      axpy_f32((*x.toks)[i].second, x.y + i * d, out + static_cast<size_t>((*x.toks)[i].first) * d, d);
}

}  // namespace

ExpertChoice route_token(const ModelConfig& c, const float* logits, const std::vector<float>& bias) {
  const int E = c.n_expert;
  std::vector<float> score(logits, logits + E);
  if (c.gating == Gating::Sigmoid) {
    for (float& s : score) s = 1.f / (1.f + std::exp(-s));
  } else {
    softmax_inplace(score.data(), E);
  }
  std::vector<float> sel = score;
  if (!bias.empty())
    for (int e = 0; e < E; ++e) sel[e] += bias[e];

  if (c.n_expert_groups > 1 && c.n_expert_groups_used < c.n_expert_groups) {
    // Group-limited routing: keep the best groups, judged by their top-2 sum when a selection bias
    // exists (V3's noaux_tc) or by their best expert otherwise (V2's group_limited_greedy).
    const int G = c.n_expert_groups, per = E / G;
    std::vector<float> gscore(G);
    for (int g = 0; g < G; ++g) {
      std::vector<float> members(sel.begin() + g * per, sel.begin() + (g + 1) * per);
      std::sort(members.begin(), members.end(), std::greater<float>());
      gscore[g] = bias.empty() || per < 2 ? members[0] : members[0] + members[1];
    }
    std::vector<bool> keep(G, false);
    for (int g : top_k(gscore, c.n_expert_groups_used)) keep[g] = true;
    for (int e = 0; e < E; ++e)
      if (!keep[e / per]) sel[e] = -INFINITY;
  }

  ExpertChoice ch;
  ch.experts = top_k(sel, c.n_expert_used);
  for (int e : ch.experts) ch.weights.push_back(score[e]);  // unbiased scores weight the outputs
  if (c.expert_weights_norm) {
    float sum = 0.f;
    for (float x : ch.weights) sum += x;
    for (float& x : ch.weights) x /= (sum + 1e-20f);
  }
  for (float& x : ch.weights) x *= c.expert_weights_scale;
  return ch;
}

void dense_ffn(const MatView& gate, const MatView& up, const MatView& down, const float* X, int n, float* out) {
  const int64_t f = gate.rows;
  std::vector<float> G(static_cast<size_t>(n) * f), U(static_cast<size_t>(n) * f);
  // Gate and up in one pass: the input is quantized once and there is one barrier, not two.
  matmul_many({{gate, X, n, G.data()}, {up, X, n, U.data()}});
  // A prefill's SiLU is millions of exp calls: split over the threads by token rows.
  auto act = [&](int64_t t0, int64_t t1, int) { swiglu_inplace(&G[static_cast<size_t>(t0 * f)], &U[static_cast<size_t>(t0 * f)], (t1 - t0) * f); };
  if (n * f >= 16384) global_pool().parallel_for(n, act);
  else act(0, n, 0);
  matmul(down, G.data(), n, out);
}

void moe_ffn(const ModelConfig& c, const LayerWeights& w, const float* X, int n, float* out) {
  const int d = c.n_embd, E = c.n_expert;
  std::vector<float> logits(static_cast<size_t>(n) * E);
  matmul(w.gate_inp, X, n, logits.data());

  // Gather the tokens routed to each expert so each expert's weights are read once per batch.
  std::vector<std::vector<std::pair<int, float>>> routed(E);
  for (int t = 0; t < n; ++t) {
    const ExpertChoice ch = route_token(c, &logits[static_cast<size_t>(t) * E], w.exp_probs_b);
    for (size_t k = 0; k < ch.experts.size(); ++k) routed[ch.experts[k]].push_back({t, ch.weights[k]});
  }

  if (n <= kFusedMaxTokens) return experts_fused(c, w, X, n, routed, out);

  if (c.n_expert_shared > 0) dense_ffn(w.gate_shexp, w.up_shexp, w.down_shexp, X, n, out);
  else std::fill(out, out + static_cast<size_t>(n) * d, 0.f);

  std::vector<float> xe, ye;
  for (int e = 0; e < E; ++e) {
    const auto& toks = routed[e];
    if (toks.empty()) continue;
    const int m = static_cast<int>(toks.size());
    xe.resize(static_cast<size_t>(m) * d);
    ye.resize(static_cast<size_t>(m) * d);
    for (int i = 0; i < m; ++i) std::copy_n(X + static_cast<size_t>(toks[i].first) * d, d, &xe[static_cast<size_t>(i) * d]);
    dense_ffn(w.gate_exps.expert(e), w.up_exps.expert(e), w.down_exps.expert(e), xe.data(), m, ye.data());
    for (int i = 0; i < m; ++i)
      axpy_f32(toks[i].second, &ye[static_cast<size_t>(i) * d], out + static_cast<size_t>(toks[i].first) * d, d);
  }
}

}  // namespace qs
