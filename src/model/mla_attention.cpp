// Multi-head latent attention, the one place it lives. Notation as in the DeepSeek papers:
// d_c = kv_lora_rank (latent), d_r = qk_rope, d_n = qk_nope, d_v = v head size, H heads.
//
//   q        = W_qb · norm(W_qa · x)       (or W_q · x without q-LoRA); per head [q_nope | q_pe]
//   [c | kr] = W_kva · x;  c_kv = norm(c);  k_pe = RoPE(kr)     ← only these are cached
//   score(h, s) = scale · (q_nope·W_UK[h]·c_kv[s] + q_pe·k_pe[s])
//   out      = W_o · concat_h( W_UV[h] · Σ_s softmax(score)[s] · c_kv[s] )
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "model/attention.h"

namespace qs {

namespace {

// Scratch allowed for decompressed attention's per-head K and V (V3: 128 KiB per cached position).
constexpr double kMaxDecompressedBytes = 512.0 * (1 << 20);

// W_UKᵀ·q_nope for one head (the "absorbed" query in latent space), whatever the storage layout.
void absorb_query(const ModelConfig& c, const LayerWeights& w, int h, const float* q_nope, float* q_lat) {
  const MatView uk = w.uk(h, c);
  if (w.mla_layout == MlaLayout::KvB) matvec_t_st(uk, q_nope, q_lat);  // uk: [d_n, d_c]
  else matvec_st(uk, q_nope, q_lat);                                   // uk: [d_c, d_n] = W_UKᵀ
}

// W_UK·c_kv for one head: the decompressed no-rope key.
void decompress_key(const ModelConfig& c, const LayerWeights& w, int h, const float* c_kv, float* k_nope) {
  const MatView uk = w.uk(h, c);
  if (w.mla_layout == MlaLayout::KvB) matvec_st(uk, c_kv, k_nope);
  else matvec_t_st(uk, c_kv, k_nope);
}

// Attention in latent space: one 576-wide query [W_UKᵀ·q_nope | q_pe] per head scores every cached
// row [c_kv | k_pe] directly; the weighted sum of c_kv is lifted to the value head by W_UV.
void attend_absorbed(const ModelConfig& c, const LayerWeights& w, const KvCache& cache, int il, const float* Q,
                     int n, int pos0, float* O) {
  const int H = c.n_head, dn = c.qk_nope, dr = c.qk_rope, dc = c.kv_lora_rank, dv = c.head_dim_v;
  const int dqk = dn + dr;
  const float scale = c.attn_scale();
  global_pool().parallel_for(int64_t{n} * H, [&](int64_t b, int64_t e, int) {
    std::vector<float> q(dc + dr), o_lat(dc), scores(static_cast<size_t>(pos0 + n));
    for (int64_t job = b; job < e; ++job) {
      // Head-major: causal work grows with t, so each thread's contiguous share mixes early and late tokens.
      const int t = static_cast<int>(job % n), h = static_cast<int>(job / n);
      const float* qh = Q + (static_cast<size_t>(t) * H + h) * dqk;
      absorb_query(c, w, h, qh, q.data());
      std::copy(qh + dn, qh + dqk, q.data() + dc);
      const int n_kv = pos0 + t + 1;  // causal: keys up to and including this token
      rows_dot_st(cache.k_view(il, n_kv, 0, dc + dr), q.data(), scores.data());
      for (int s = 0; s < n_kv; ++s) scores[s] *= scale;
      softmax_inplace(scores.data(), n_kv);
      std::fill(o_lat.begin(), o_lat.end(), 0.f);
      rows_weighted_sum_st(cache.k_view(il, n_kv, 0, dc), scores.data(), o_lat.data());
      matvec_st(w.uv(h, c), o_lat.data(), O + (static_cast<size_t>(t) * H + h) * dv);
    }
  });
}

// Ordinary multi-head attention on per-head K/V rebuilt from the latent once per batch.
void attend_decompressed(const ModelConfig& c, const LayerWeights& w, const KvCache& cache, int il,
                         const float* Q, int n, int pos0, float* O) {
  const int H = c.n_head, dn = c.qk_nope, dr = c.qk_rope, dc = c.kv_lora_rank, dv = c.head_dim_v;
  const int dqk = dn + dr;
  const int n_kv = pos0 + n;
  const float scale = c.attn_scale();
  std::vector<float> lat(static_cast<size_t>(n_kv) * (dc + dr));
  for (int s = 0; s < n_kv; ++s) cache.load_k(il, s, &lat[static_cast<size_t>(s) * (dc + dr)]);
  std::vector<float> K(static_cast<size_t>(n_kv) * H * dn), V(static_cast<size_t>(n_kv) * H * dv);
  global_pool().parallel_for(int64_t{n_kv} * H, [&](int64_t b, int64_t e, int) {
    for (int64_t job = b; job < e; ++job) {
      const int s = static_cast<int>(job / H), h = static_cast<int>(job % H);
      const float* c_kv = &lat[static_cast<size_t>(s) * (dc + dr)];
      decompress_key(c, w, h, c_kv, &K[static_cast<size_t>(job) * dn]);
      matvec_st(w.uv(h, c), c_kv, &V[static_cast<size_t>(job) * dv]);
    }
  });
  global_pool().parallel_for(int64_t{n} * H, [&](int64_t b, int64_t e, int) {
    std::vector<float> scores(static_cast<size_t>(n_kv));
    for (int64_t job = b; job < e; ++job) {
      // Head-major: causal work grows with t, so each thread's contiguous share mixes early and late tokens.
      const int t = static_cast<int>(job % n), h = static_cast<int>(job / n);
      const float* q = Q + (static_cast<size_t>(t) * H + h) * dqk;
      const int n_vis = pos0 + t + 1;
      for (int s = 0; s < n_vis; ++s) {
        const float* k_pe = &lat[static_cast<size_t>(s) * (dc + dr) + dc];
        scores[s] = scale * (dot_f32(q, &K[(static_cast<size_t>(s) * H + h) * dn], dn) + dot_f32(q + dn, k_pe, dr));
      }
      softmax_inplace(scores.data(), n_vis);
      float* o = O + (static_cast<size_t>(t) * H + h) * dv;
      std::fill(o, o + dv, 0.f);
      for (int s = 0; s < n_vis; ++s) axpy_f32(scores[s], &V[(static_cast<size_t>(s) * H + h) * dv], o, dv);
    }
  });
}

}  // namespace

void mla_attention(const ModelConfig& c, const LayerWeights& w, const Rope& rope, const std::vector<SeqSpan>& spans,
                   int il, const float* X, int n, float* out, MlaMode mode) {
  const int H = c.n_head, dn = c.qk_nope, dr = c.qk_rope, dc = c.kv_lora_rank, dv = c.head_dim_v;
  const int dqk = dn + dr;

  // Queries [n][H][d_n + d_r].
  std::vector<float> Q(static_cast<size_t>(n) * H * dqk);
  if (c.q_lora_rank > 0) {
    std::vector<float> qa(static_cast<size_t>(n) * c.q_lora_rank);
    matmul(w.wq_a, X, n, qa.data());
    for (int t = 0; t < n; ++t) {
      float* r = &qa[static_cast<size_t>(t) * c.q_lora_rank];
      rms_norm(r, w.q_a_norm.data(), r, c.q_lora_rank, c.rms_eps);
    }
    matmul(w.wq_b, qa.data(), n, Q.data());
  } else {
    matmul(w.wq, X, n, Q.data());
  }
  // The latent: normed c_kv and roped k_pe go straight into each sequence's cache.
  std::vector<float> kva(static_cast<size_t>(n) * (dc + dr));
  matmul(w.wkv_a, X, n, kva.data());
  for (const SeqSpan& sp : spans) {
    for (int i = 0; i < sp.count; ++i) {
      const int t = sp.start + i, pos = sp.pos0 + i;
      for (int h = 0; h < H; ++h) rope.apply(&Q[(static_cast<size_t>(t) * H + h) * dqk + dn], pos);
      float* row = &kva[static_cast<size_t>(t) * (dc + dr)];
      rms_norm(row, w.kv_a_norm.data(), row, dc, c.rms_eps);
      rope.apply(row + dc, pos);
      sp.cache->store_k(il, pos, row);
    }
  }

  std::vector<float> O(static_cast<size_t>(n) * H * dv);
  for (const SeqSpan& sp : spans) {
    MlaMode m = mode;
    // Absorbed costs more arithmetic per (query, key) pair but needs no per-key decompression;
    // it wins unless many queries share the same keys.
    // Decompression also materialises K and V for every cached position, so past a scratch budget
    // (a long context behind a prefill chunk) the absorbed form is used whatever the mode asked.
    const double decompressed_bytes = 4.0 * (sp.pos0 + sp.count) * H * (dn + dv);
    if (m == MlaMode::Auto) m = sp.count >= 32 ? MlaMode::Decompressed : MlaMode::Absorbed;
    if (decompressed_bytes > kMaxDecompressedBytes) m = MlaMode::Absorbed;
    const float* q = &Q[static_cast<size_t>(sp.start) * H * dqk];
    float* o = &O[static_cast<size_t>(sp.start) * H * dv];
    if (m == MlaMode::Absorbed) attend_absorbed(c, w, *sp.cache, il, q, sp.count, sp.pos0, o);
    else attend_decompressed(c, w, *sp.cache, il, q, sp.count, sp.pos0, o);
  }
  matmul(w.wo, O.data(), n, out);
}

}  // namespace qs
