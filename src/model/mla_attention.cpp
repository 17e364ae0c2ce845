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

#include "kernels/attention_tiles.h"
#include "kernels/cache_rows.h"
#include "kernels/cpu_features.h"
#include "kernels/float_matmul.h"
#include "kernels/latent_heads.h"
#include "kernels/matmul.h"
#include "kernels/matmul_many.h"
#include "kernels/repack.h"
#include "kernels/ops.h"
#include "kernels/prefetch.h"
#include "kernels/thread_pool.h"
#include "kernels/tuning.h"
#include "model/attention.h"
#include "model/dsa_indexer.h"

namespace qs {

namespace {

// W_UKᵀ·q_nope for one head (the "absorbed" query in latent space), whatever the storage layout.
// `next`: the rows read after this head's, for the kernels to prefetch while they run (prefetch.h).
void absorb_query(const ModelConfig& c, const LayerWeights& w, int h, const float* q_nope, float* q_lat,
                  PrefetchTrail* next) {
  const MatView uk = w.uk(h, c);
  if (w.mla_layout == MlaLayout::KvB) matvec_t_st(uk, q_nope, q_lat, next);  // uk: [d_n, d_c]
  else matvec_st(uk, q_nope, q_lat, next);                                   // uk: [d_c, d_n] = W_UKᵀ
}

// The rows of a view, as a prefetch trail: the rows of head h+1 are not next to those of head h, so
// each per-head product is told where the next one reads.
PrefetchTrail rows_trail(const MatView& v) {
  return trail_of(v.data, v.empty() ? 0 : static_cast<size_t>(v.rows) * v.row_stride);
}

// Cached positions scored per pass in absorbed attention: a chunk (V3: 144 KB in F16, 295 KB as
// float) stays in L2 while every head of the piece reads it, so the cache streams once per layer
// instead of once per head (V3 has 128 heads), with an online softmax carried from chunk to chunk.
constexpr int kLatentChunk = 128;

// The latent rows each query of attend_absorbed reads: the cache's prefix up to the query (dense),
// or (sparse attention) rows gathered into a contiguous copy so the same chunked kernels run on them.
struct LatentKeys {
  std::vector<MatView> of;  // per query token: every row it attends to, [c_kv | k_pe]
  int max_rows = 0;
};

// The online-softmax state of every (token, head) pair over one span of cached rows, token-major:
// the unnormalised output in latent space, the running max and the sum of exponentials.
struct SpanState {
  float* o_lat;  // [n·H][d_c]
  float* m;      // [n·H], from -inf
  float* l;      // [n·H], from 0
};

// Where one piece of absorbed attention works: cached rows [r0, r1) for heads [h0, h1) of every token.
// Queries and states are indexed by token·H + head.
struct SpanWork {
  int r0, r1, h0, h1, H;
};

// Chunk by chunk, one (token, head) pair at a time: each head's query against the cache rows in the
// cache's own type (the row kernels of qdot.h, vectorised for AVX2 as well). The piece's share of
// the span state is reset here and accumulated in place.
void fold_span_per_head(const LatentKeys& keys_of, const SpanWork& wk, const float* q, int dc, int dr, float scale,
                        const SpanState& st) {
  const int heads = wk.h1 - wk.h0;
  const size_t nq = keys_of.of.size() * heads;
  for (size_t t = 0; t < keys_of.of.size(); ++t) {
    const size_t k0 = t * wk.H + wk.h0, k1 = k0 + heads;
    std::fill(st.m + k0, st.m + k1, -INFINITY);
    std::fill(st.l + k0, st.l + k1, 0.f);
    std::fill(st.o_lat + k0 * dc, st.o_lat + k1 * dc, 0.f);
  }
  std::vector<float> p(kLatentChunk);
  // Each query in the cache's activation format once (a Q8_0 cache scores 8-bit queries), not per chunk.
  std::vector<std::vector<uint8_t>> qbuf(nq);
  std::vector<const void*> qk(nq);
  for (size_t t = 0; t < keys_of.of.size(); ++t)
    for (int i = 0; i < heads; ++i)
      qk[t * heads + i] = rows_query(keys_of.of[0], q + (t * wk.H + wk.h0 + i) * (dc + dr), qbuf[t * heads + i]);
  const int r0 = wk.r0, r1 = wk.r1;
  for (int s0 = r0; s0 < r1; s0 += kLatentChunk) {
    const int ns = std::min(kLatentChunk, r1 - s0);
    for (size_t t = 0; t < keys_of.of.size(); ++t) {
      const MatView& all = keys_of.of[t];
      const int vis = std::min<int64_t>(ns, all.rows - s0);  // causal: keys up to and including the token
      if (vis <= 0) continue;
      const MatView keys = all.slice_rows(s0, vis);
      MatView vals = keys;
      vals.cols = dc;
      for (int i = 0; i < heads; ++i) {
        const size_t k = t * wk.H + wk.h0 + i;
        rows_dot_prepared_st(keys, qk[t * heads + i], p.data());
        for (int j = 0; j < vis; ++j) p[j] *= scale;
        fold_scores(p.data(), vis, st.m[k], st.l[k], &st.o_lat[k * dc], dc);
        rows_weighted_sum_st(vals, p.data(), &st.o_lat[k * dc]);
      }
    }
  }
}

// Chunk by chunk, the heads of a token 16 at a time in the vector lanes (latent_heads.h): the chunk
// is converted to float once for all heads and tokens (per head, converting F16 rows had cost as
// much as the products), the queries are transposed once per span. The state lives in the lanes'
// layout and is written to the piece's share of the span state at the end.
void fold_span_tiled(const LatentKeys& keys_of, const SpanWork& wk, const float* q, int dc, int dr, float scale,
                     const SpanState& st) {
  constexpr int L = kLatentLanes;
  const LatentChunkFn fold = latent_chunk_kernel();
  const size_t row = static_cast<size_t>(dc + dr), dk = row;
  const int n = static_cast<int>(keys_of.of.size()), heads = wk.h1 - wk.h0, groups = (heads + L - 1) / L;
  // Per (token, group): the transposed queries [dk][16] and the state m[16], l[16], oT[dc][16].
  const size_t g_state = 2 * L + static_cast<size_t>(dc) * L;
  std::vector<float> qT(static_cast<size_t>(n) * groups * dk * L, 0.f), state(static_cast<size_t>(n) * groups * g_state, 0.f);
  auto group_state = [&](int t, int g) {
    float* b = &state[(static_cast<size_t>(t) * groups + g) * g_state];
    return LatentHeadsState{b, b + L, b + 2 * L};
  };
  for (int t = 0; t < n; ++t)
    for (int i = 0; i < heads; ++i) {
      const float* qi = q + (static_cast<size_t>(t) * wk.H + wk.h0 + i) * row;
      float* dst = &qT[(static_cast<size_t>(t) * groups + i / L) * dk * L + i % L];
      for (size_t d = 0; d < dk; ++d) dst[d * L] = qi[d];
      if (i % L == 0) std::fill_n(group_state(t, i / L).m, L, -INFINITY);
    }
  std::vector<float> scratch(static_cast<size_t>(kLatentChunk) * L), rows_f(kLatentChunk * row);
  for (int s0 = wk.r0; s0 < wk.r1; s0 += kLatentChunk) {
    const int ns = std::min(kLatentChunk, wk.r1 - s0);
    const uint8_t* converted_from = nullptr;  // the tokens of a dense batch share their rows
    int converted = 0;
    for (int t = 0; t < n; ++t) {
      const MatView& all = keys_of.of[static_cast<size_t>(t)];
      const int vis = std::min<int64_t>(ns, all.rows - s0);  // causal: keys up to and including the token
      if (vis <= 0) continue;
      const float* kf = rows_f.data();
      size_t k_stride = row;
      if (all.type == GgmlType::F32) {
        kf = reinterpret_cast<const float*>(all.row(s0));
        k_stride = all.row_stride / sizeof(float);
      } else {
        if (all.data != converted_from) converted_from = all.data, converted = 0;
        if (vis > converted) rows_to_float_st(all, s0 + converted, vis - converted, &rows_f[converted * row]);
        converted = std::max(converted, vis);
      }
      // The rows this piece reads next, asked for while this chunk computes (the last token's pass).
      const int64_t after = std::min<int64_t>({ns, wk.r1 - s0 - ns, all.rows - s0 - ns});
      PrefetchTrail next = t + 1 == n && after > 0 ? trail_of(all.row(s0 + ns), after * all.row_stride) : PrefetchTrail{};
      for (int g = 0; g < groups; ++g)
        fold(&qT[(static_cast<size_t>(t) * groups + g) * dk * L], static_cast<int>(dk), kf, k_stride, vis, dc, scale,
             scratch.data(), group_state(t, g), &next);
    }
  }
  for (int t = 0; t < n; ++t)  // back to the span's layout, one row of d_c per head
    for (int i = 0; i < heads; ++i) {
      const LatentHeadsState gs = group_state(t, i / L);
      const size_t k = static_cast<size_t>(t) * wk.H + wk.h0 + i;
      st.m[k] = gs.m[i % L];
      st.l[k] = gs.l[i % L];
      for (int d = 0; d < dc; ++d) st.o_lat[k * dc + d] = gs.oT[static_cast<size_t>(d) * L + i % L];
    }
}

// Cached rows per span of absorbed attention. The threads share the cache by spans, not by heads,
// so each row is read from memory and converted once per layer rather than once per thread; the
// span length is fixed (not derived from the thread count), so the result does not depend on how
// many threads ran it. Partial states of all spans stay under kSpanStateBytes.
constexpr int kSpanRows = 4 * kLatentChunk;
constexpr size_t kSpanStateBytes = size_t{64} << 20;

// Attention in latent space: one 576-wide query [W_UKᵀ·q_nope | q_pe] per head scores every cached
// row [c_kv | k_pe] directly; the weighted sum of c_kv is lifted to the value head by W_UV.
// Three passes: latent queries (threads split the heads), the cache in spans of rows (threads split
// the spans, and the heads too when spans are fewer than threads), then the spans' states merged in
// span order and lifted by W_UV (heads again).
void attend_absorbed(const ModelConfig& c, const LayerWeights& w, const LatentKeys& keys_of, const float* Q, int n,
                     float* O) {
  const int H = c.n_head, dn = c.qk_nope, dr = c.qk_rope, dc = c.kv_lora_rank, dv = c.head_dim_v;
  const int dqk = dn + dr;
  const size_t row = static_cast<size_t>(dc + dr), pairs = static_cast<size_t>(n) * H;
  std::vector<float> q(pairs * row);
  global_pool().parallel_for(H, [&](int64_t h0, int64_t h1, int) {
    PrefetchTrail trail;  // the next head's rows, which do not follow this head's
    for (int t = 0; t < n; ++t)
      for (int64_t h = h0; h < h1; ++h) {
        const float* qh = Q + (static_cast<size_t>(t) * H + h) * dqk;
        float* qa = &q[(static_cast<size_t>(t) * H + h) * row];
        trail = rows_trail(h + 1 < h1 ? w.uk(static_cast<int>(h) + 1, c) : MatView{});
        absorb_query(c, w, static_cast<int>(h), qh, qa, &trail);
        std::copy(qh + dn, qh + dqk, qa + dc);
      }
  });

  const size_t state_floats = pairs * (dc + 2);
  const int max_spans = static_cast<int>(std::max<size_t>(1, kSpanStateBytes / (state_floats * sizeof(float))));
  const int per_span = (keys_of.max_rows + max_spans - 1) / max_spans;
  const int span_rows = std::max(kSpanRows, (per_span + kLatentChunk - 1) / kLatentChunk * kLatentChunk);
  const int spans = std::max(1, (keys_of.max_rows + span_rows - 1) / span_rows);
  // Kept between calls (up to kSpanStateBytes): every piece resets the part it uses.
  thread_local std::vector<float> kept;
  if (kept.size() < static_cast<size_t>(spans) * state_floats) kept.resize(static_cast<size_t>(spans) * state_floats);
  float* const states = kept.data();  // the workers see this thread's buffer through the pointer
  auto state_of = [&](int sp) {
    float* base = states + static_cast<size_t>(sp) * state_floats;
    return SpanState{base, base + pairs * dc, base + pairs * (dc + 1)};
  };
  // The tiles need AVX-512; below it the per-head row kernels are the faster of the two.
  const bool tiled = active_simd_level() >= SimdLevel::Avx512;
  const float scale = c.attn_scale();
  // Fewer spans than threads (a short context): the heads are split as well. That changes no result:
  // each head's sums run in the same order whichever heads share a piece.
  const int threads = global_pool().size();
  const int head_parts = std::min(H, std::max(1, (threads + spans - 1) / spans));
  global_pool().parallel_for(int64_t{spans} * head_parts, [&](int64_t b, int64_t e, int) {
    for (int64_t job = b; job < e; ++job) {
      const int sp = static_cast<int>(job / head_parts), part = static_cast<int>(job % head_parts);
      const SpanWork wk{sp * span_rows, std::min(keys_of.max_rows, (sp + 1) * span_rows), H * part / head_parts,
                        H * (part + 1) / head_parts, H};
      if (tiled) fold_span_tiled(keys_of, wk, q.data(), dc, dr, scale, state_of(sp));
      else fold_span_per_head(keys_of, wk, q.data(), dc, dr, scale, state_of(sp));
    }
  });

  global_pool().parallel_for(H, [&](int64_t h0, int64_t h1, int) {
    std::vector<float> o(dc);
    PrefetchTrail trail;
    for (int t = 0; t < n; ++t)
      for (int64_t h = h0; h < h1; ++h) {
        const size_t k = static_cast<size_t>(t) * H + h;
        float mx = -INFINITY;
        for (int sp = 0; sp < spans; ++sp) mx = std::max(mx, state_of(sp).m[k]);
        std::fill(o.begin(), o.end(), 0.f);
        float l = 0.f;
        for (int sp = 0; sp < spans; ++sp) {
          const SpanState st = state_of(sp);
          if (st.l[k] == 0.f) continue;  // no row of this span is visible to the token
          const float f = std::exp(st.m[k] - mx);
          l += f * st.l[k];
          const float* ol = st.o_lat + k * dc;
          for (int d = 0; d < dc; ++d) o[d] += f * ol[d];
        }
        const float inv = 1.f / l;
        for (int d = 0; d < dc; ++d) o[d] *= inv;
        trail = rows_trail(h + 1 < h1 ? w.uv(static_cast<int>(h) + 1, c) : MatView{});
        matvec_st(w.uv(static_cast<int>(h), c), o.data(), O + k * dv, &trail);
      }
  });
}

// Absorbed attention for one sequence's queries [pos0, pos0 + n): over the cache's prefixes, or over
// each query's selected rows (gathered a bounded group of queries at a time).
void attend_absorbed_span(const ModelConfig& c, const LayerWeights& w, const KvCache& cache, int il, const float* Q,
                          int n, int pos0, float* O, const std::vector<int32_t>* selected) {
  const int dc = c.kv_lora_rank, dr = c.qk_rope;
  const size_t q_row = static_cast<size_t>(c.n_head) * (c.qk_nope + dr), o_row = static_cast<size_t>(c.n_head) * c.head_dim_v;
  const MatView all = cache.k_view(il, pos0 + n, 0, dc + dr);
  constexpr size_t kGatherBytes = size_t{32} << 20;
  // Kept between calls: a decode step gathers a few megabytes per layer (V3.2: 2048 rows of 1152 bytes),
  // and a buffer that stays allocated never has to be mapped and faulted in again.
  thread_local std::vector<uint8_t> gathered;
  for (int t0 = 0; t0 < n;) {
    LatentKeys keys;
    size_t bytes = 0;
    int t1 = t0;
    for (; t1 < n; ++t1) {
      const size_t rows = selected && !selected[t1].empty() ? selected[t1].size() : 0;
      if (t1 > t0 && bytes + rows * all.row_stride > kGatherBytes) break;
      bytes += rows * all.row_stride;
    }
    gathered.resize(bytes);
    size_t off = 0;
    for (int t = t0; t < t1; ++t) {
      if (!selected || selected[t].empty()) {
        keys.of.push_back(all.slice_rows(0, pos0 + t + 1));
      } else {
        MatView g = all;
        g.data = gathered.data() + off;
        g.rows = static_cast<int64_t>(selected[t].size());
        for (size_t j = 0; j < selected[t].size(); ++j, off += all.row_stride)
          std::copy_n(all.row(selected[t][j]), all.row_stride, gathered.data() + off);
        keys.of.push_back(g);
      }
      keys.max_rows = std::max<int>(keys.max_rows, static_cast<int>(keys.of.back().rows));
    }
    attend_absorbed(c, w, keys, Q + t0 * q_row, t1 - t0, O + t0 * o_row);
    t0 = t1;
  }
}

// K_nope and V of cached positions [s0, s0 + ns) for every head, rebuilt from the latent:
// KV[j][h] = [W_UK[h]·c_kv | W_UV[h]·c_kv]. With attn_kv_b that is one matrix product over the
// whole chunk (the weights are read once, in their quantized kernels); lat gets the raw rows.
void decompress_chunk(const ModelConfig& c, const LayerWeights& w, const KvCache& cache, int il, int s0, int ns,
                      std::vector<float>& lat, std::vector<float>& KV) {
  const int H = c.n_head, dn = c.qk_nope, dr = c.qk_rope, dc = c.kv_lora_rank, dv = c.head_dim_v;
  const size_t row = static_cast<size_t>(dc + dr), kv_row = static_cast<size_t>(H) * (dn + dv);
  lat.resize(static_cast<size_t>(ns) * row);
  for (int j = 0; j < ns; ++j) cache.load_k(il, s0 + j, &lat[j * row]);
  std::vector<float> c_kv(static_cast<size_t>(ns) * dc);
  for (int j = 0; j < ns; ++j) std::copy_n(&lat[j * row], dc, &c_kv[static_cast<size_t>(j) * dc]);
  KV.resize(static_cast<size_t>(ns) * kv_row);
  if (w.mla_layout == MlaLayout::KvB) return matmul_float_act(w.wkv_b, c_kv.data(), ns, KV.data());
  // attn_v_b holds W_UV (one product for every head); attn_k_b holds W_UKᵀ per head, [d_c][d_n], which is
  // already the transposed operand of the score tile: K_nope[j] = Σ_r c_kv[j][r] · W_UKᵀ[r].
  std::vector<float> Vall(static_cast<size_t>(ns) * H * dv);
  matmul_float_act(w.wv_b, c_kv.data(), ns, Vall.data());
  const ScoresTileFn tile = scores_tile_kernel();
  global_pool().parallel_for(H, [&](int64_t h0, int64_t h1, int) {
    std::vector<float> ukt(static_cast<size_t>(dc) * dn);
    for (int64_t h = h0; h < h1; ++h) {
      const MatView uk = w.uk(static_cast<int>(h), c);
      for (int r = 0; r < dc; ++r) row_to_float(uk, r, &ukt[static_cast<size_t>(r) * dn]);
      float* k_nope = &KV[static_cast<size_t>(h) * (dn + dv)];
      tile(c_kv.data(), static_cast<size_t>(dc), ns, ukt.data(), static_cast<size_t>(dn), dn, dc, 1.f, k_nope, kv_row);
      for (int j = 0; j < ns; ++j) std::copy_n(&Vall[(static_cast<size_t>(j) * H + h) * dv], dv, k_nope + j * kv_row + dn);
    }
  });
}

// Key positions decompressed at a time: the scratch stays bounded (V3: 32 MiB of K/V per chunk)
// however long the cached context is. Queries are attended 16 at a time (one tile).
constexpr int kKeyChunk = 256;
constexpr int kQueryTile = 16;

// Ordinary multi-head attention on per-head K/V rebuilt from the latent, flash-style: key chunks in
// the outer loop (each decompressed once for the whole batch), tiles of queries × keys as small
// matrix products with an online softmax carrying the state from chunk to chunk.
// `selected` (may be null): per query, the positions sparse attention keeps (empty: all of them).
void attend_decompressed(const ModelConfig& c, const LayerWeights& w, const KvCache& cache, int il,
                         const float* Q, int n, int pos0, float* O, const std::vector<int32_t>* selected) {
  const int H = c.n_head, dn = c.qk_nope, dr = c.qk_rope, dc = c.kv_lora_rank, dv = c.head_dim_v;
  const int dqk = dn + dr;
  const int n_kv = pos0 + n;
  const float scale = c.attn_scale();
  const int n_tiles = (n + kQueryTile - 1) / kQueryTile;
  const size_t kv_row = static_cast<size_t>(H) * (dn + dv), lat_row = static_cast<size_t>(dc + dr);
  std::vector<float> m(static_cast<size_t>(H) * n, -INFINITY), l(static_cast<size_t>(H) * n, 0.f);
  std::vector<float> lat, KV, Kt;
  // Sparse attention: query t sees key s where mask[t·n_kv + s]; chunks no query selects are skipped.
  std::vector<uint8_t> mask;
  if (selected) {
    mask.assign(static_cast<size_t>(n) * n_kv, 0);
    for (int t = 0; t < n; ++t) {
      uint8_t* row = &mask[static_cast<size_t>(t) * n_kv];
      if (selected[t].empty()) std::fill(row, row + pos0 + t + 1, uint8_t{1});
      for (int32_t s : selected[t]) row[s] = 1;
    }
  }
  for (int s0 = 0; s0 < n_kv; s0 += kKeyChunk) {
    const int ns = std::min(kKeyChunk, n_kv - s0);
    if (selected) {
      bool used = false;
      for (int t = 0; t < n && !used; ++t) {
        const uint8_t* row = &mask[static_cast<size_t>(t) * n_kv + s0];
        used = std::find(row, row + ns, uint8_t{1}) != row + ns;
      }
      if (!used) continue;
    }
    decompress_chunk(c, w, cache, il, s0, ns, lat, KV);
    // Keys transposed per head, [h][d][j]: the score tile broadcasts a query value against a row of keys.
    Kt.resize(static_cast<size_t>(H) * dqk * ns);
    global_pool().parallel_for(H, [&](int64_t h0, int64_t h1, int) {
      for (int64_t h = h0; h < h1; ++h) {
        float* kt = &Kt[static_cast<size_t>(h) * dqk * ns];
        for (int j = 0; j < ns; ++j) {
          const float* k_nope = &KV[j * kv_row + h * (dn + dv)];
          const float* k_pe = &lat[j * lat_row + dc];
          for (int d = 0; d < dn; ++d) kt[static_cast<size_t>(d) * ns + j] = k_nope[d];
          for (int d = 0; d < dr; ++d) kt[static_cast<size_t>(dn + d) * ns + j] = k_pe[d];
        }
      }
    });
    global_pool().parallel_for(int64_t{H} * n_tiles, [&](int64_t b, int64_t e, int) {
      std::vector<float> scratch(static_cast<size_t>(kQueryTile) * ns);
      for (int64_t job = b; job < e; ++job) {
        const int h = static_cast<int>(job / n_tiles), t0 = static_cast<int>(job % n_tiles) * kQueryTile;
        const int nq = std::min(kQueryTile, n - t0);
        const OnlineSoftmax st{O + (static_cast<size_t>(t0) * H + h) * dv, static_cast<size_t>(H) * dv,
                               &m[static_cast<size_t>(h) * n + t0], &l[static_cast<size_t>(h) * n + t0]};
        attend_tile(Q + (static_cast<size_t>(t0) * H + h) * dqk, static_cast<size_t>(H) * dqk, nq, pos0 + t0,
                    &Kt[static_cast<size_t>(h) * dqk * ns], static_cast<size_t>(ns), &KV[static_cast<size_t>(h) * (dn + dv) + dn],
                    kv_row, ns, s0, dqk, dv, scale, st, scratch.data(),
                    selected ? &mask[static_cast<size_t>(t0) * n_kv + s0] : nullptr, static_cast<size_t>(n_kv));
      }
    });
  }
  for (int h = 0; h < H; ++h)
    finish_online_softmax({O + static_cast<size_t>(h) * dv, static_cast<size_t>(H) * dv, &m[static_cast<size_t>(h) * n],
                           &l[static_cast<size_t>(h) * n]},
                          n, dv);
}

}  // namespace

void mla_attention(const ModelConfig& c, const LayerWeights& w, const Rope& rope, const std::vector<SeqSpan>& spans,
                   int il, const float* X, int n, float* out, MlaMode mode) {
  const int H = c.n_head, dn = c.qk_nope, dr = c.qk_rope, dc = c.kv_lora_rank, dv = c.head_dim_v;
  const int dqk = dn + dr;

  // Queries [n][H][d_n + d_r], and the latent [n][d_c + d_r]: the two products that read X run as
  // one pass (X quantized once, one barrier).
  std::vector<float> Q(static_cast<size_t>(n) * H * dqk), kva(static_cast<size_t>(n) * (dc + dr));
  KeySelection sel;  // DSA: each query's selected positions (none: dense)
  if (c.q_lora_rank > 0) {
    std::vector<float> qa(static_cast<size_t>(n) * c.q_lora_rank);
    matmul_many({{w.wq_a, X, n, qa.data()}, {w.wkv_a, X, n, kva.data()}});
    for (int t = 0; t < n; ++t) {
      float* r = &qa[static_cast<size_t>(t) * c.q_lora_rank];
      rms_norm(r, w.q_a_norm.data(), r, c.q_lora_rank, c.rms_eps);
    }
    matmul(w.wq_b, qa.data(), n, Q.data());
    if (c.has_indexer()) sel = select_keys(c, w, rope, spans, il, X, qa.data(), n);
  } else {
    matmul_many({{w.wq, X, n, Q.data()}, {w.wkv_a, X, n, kva.data()}});
  }
  // The latent: normed c_kv and roped k_pe go straight into each sequence's cache.
  for (const SeqSpan& sp : spans) {
    for (int i = 0; i < sp.count; ++i) {
      const int t = sp.start + i, pos = sp.pos0 + i;
      rope.apply(&Q[static_cast<size_t>(t) * H * dqk + dn], pos, H, static_cast<size_t>(dqk));
      float* row = &kva[static_cast<size_t>(t) * (dc + dr)];
      rms_norm(row, w.kv_a_norm.data(), row, dc, c.rms_eps);
      rope.apply(row + dc, pos);
      sp.cache->store_k(il, pos, row);
    }
  }

  std::vector<float> O(static_cast<size_t>(n) * H * dv);
  for (const SeqSpan& sp : spans) {
    MlaMode m = mode;
    // Per cached key, absorbed costs n·H·(2·d_c + d_r) multiply-adds and decompressed
    // H·d_c·(d_n + d_v) (once, in the fast int8 kernels) plus n·H·(d_n + d_r + d_v): the context
    // length cancels, and decompressed wins once about 32 queries share the keys (V2/V3 widths).
    if (m == MlaMode::Auto) m = sp.count >= tuning().mla_decompress_min_queries ? MlaMode::Decompressed : MlaMode::Absorbed;
    const float* q = &Q[static_cast<size_t>(sp.start) * H * dqk];
    float* o = &O[static_cast<size_t>(sp.start) * H * dv];
    bool sparse = false;
    for (int i = 0; i < sp.count && !sparse; ++i) sparse = sel.sparse(sp.start + i);
    const std::vector<int32_t>* selected = sparse ? &sel.rows[static_cast<size_t>(sp.start)] : nullptr;
    if (m == MlaMode::Absorbed) attend_absorbed_span(c, w, *sp.cache, il, q, sp.count, sp.pos0, o, selected);
    else attend_decompressed(c, w, *sp.cache, il, q, sp.count, sp.pos0, o, selected);
  }
  matmul(w.wo, O.data(), n, out);
}

}  // namespace qs
