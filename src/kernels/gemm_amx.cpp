// AMX-INT8 versions of the batched grouped products (Q8x16, Q5x16, Q4Kx16), for prefill.
//
// A Q8x16 weight block (8 steps x 16 rows x 4 quants, 512 bytes) is exactly an AMX B tile (K/4 = 8
// rows of 16 dwords), and the same block's 32 activations of 16 tokens are an A tile (16 rows x 32
// bytes, act_stride apart). One tile product gives the block's 16x16 integer dots; each block has
// its own weight and activation scales, so they leave the tile through a 1 KiB buffer into a float
// epilogue that accumulates one zmm of 16 row results per token.
//
// The stored quants are unsigned (q + 128). The first token tile of each group also writes a signed
// copy (one XOR per byte, shared by every token of the batch), so TDPBSSD gives the exact Σ q·x that
// the VNNI kernel gets as Σ (q+128)·x − 128·Σx, and the epilogue needs no correction. With the
// VNNI kernel's float operations in its block order, the results are bit-identical to it.
// Q5x16 shares all of it: its first pass unpacks the 5-bit values straight to signed q − 16.
//
// Per-function target attributes: nothing here runs unless amx_usable() said so.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside the intrinsics headers
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same, for _mm512_srli_epi32 (its _mm512_undefined placeholder)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "kernels/q4k_x16.h"
#include "kernels/q4k_x16_scales.h"
#include "kernels/q5_x16.h"
#include "kernels/qdot.h"
#include "tensor/quant_blocks.h"
#include "kernels/target.h"


namespace qs {

namespace {

constexpr int kTok = 16;  // tokens per A tile (and rows per Q8x16 group)
// Below this many tokens the VNNI kernel is as fast (it needs no tile setup and no group copy).
constexpr int64_t kMinTokens = 12;
// Fewer leftover tokens than this (past the full tiles of 16) go to the VNNI kernel rather than a
// padded tile, whose cost barely depends on how many of its rows are real.
constexpr int64_t kMinPadded = 6;
static_assert(kMinTokens >= kMinPadded, "a call with no full tile must have enough tokens for a padded one");

// Tile registers (the intrinsics take them as literal numbers): A tiles 0-1 and B tiles 2-3
// alternate between blocks, C tiles 4-7 hold the dots of 4 consecutive blocks.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

constexpr TileConfig make_config() {
  TileConfig c;
  for (int i = 0; i < 2; ++i) c.rows[i] = kTok, c.colsb[i] = 32;  // A: 16 tokens x 32 int8
  for (int i = 2; i < 4; ++i) c.rows[i] = 8, c.colsb[i] = 64;     // B: 8 steps x (16 rows x 4 int8)
  for (int i = 4; i < 8; ++i) c.rows[i] = kTok, c.colsb[i] = 64;  // C: 16 tokens x 16 int32
  return c;
}

constexpr TileConfig kConfig = make_config();

// The intrinsics' inline asm tells the compiler neither that LDTILECFG reads all 64 bytes nor that
// TILELOADD reads memory at all: buffers written here must be in memory before those run.
inline void memory_barrier() { __asm__ volatile("" ::: "memory"); }

// 64-byte lines: buffers aligned for zmm loads (over-aligned new).
struct alignas(64) Line {
  uint8_t b[64];
};

// Per-thread buffers, grown on demand and kept (the pool's threads live as long as the process).
struct Scratch {
  std::vector<Line> wq;    // the current group's quants, signed
  std::vector<Line> tail;  // the last < 16 tokens' activations as a 16-row A tile
  std::vector<float> d;    // activation scales per token tile and block: d[(tile·nb + k)·16 + token]
};
thread_local Scratch tl_scratch;

template <class T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Activation scales regrouped per tile so the epilogue finds a token's with a constant offset
// (one gather per tile and block; reading them from each token's row in the epilogue measured
// 40% slower); tokens past n_tok (the padded tail) get 0.
QS_TARGET_AMX void gather_scales(const uint8_t* act, size_t act_stride, int64_t n_tok, int64_t n, int64_t tiles, float* d) {
  const int64_t nb = n / 32;
  const __m512i offsets = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                             _mm512_set1_epi32(static_cast<int>(act_stride)));
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t live = std::min<int64_t>(kTok, n_tok - tile * kTok);
    const __mmask16 mask = static_cast<__mmask16>((1u << live) - 1);
    const uint8_t* xd = act + tile * kTok * act_stride + n;
    for (int64_t k = 0; k < nb; ++k)
      _mm512_storeu_ps(d + (tile * nb + k) * kTok,
                       _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, offsets, xd + 4 * k, 1));
  }
}

// The last m < 16 tokens' int8 activations as the first rows of a 16-row A tile source (rows n
// bytes apart). The other rows keep whatever they held (zeros or earlier tokens): their dots are
// computed and dropped.
void copy_tail(const uint8_t* act, size_t act_stride, int64_t m, int64_t n, uint8_t* dst) {
  for (int64_t t = 0; t < m; ++t) std::memcpy(dst + t * n, act + t * act_stride, static_cast<size_t>(n));
}

// Q8x16's unsigned quants (q + 128) of `blocks` blocks as signed q.
QS_TARGET_AMX void q8x16_to_signed(const uint8_t* quants, int64_t blocks, Line* dst) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < 8 * blocks; ++i)
    _mm512_store_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(quants + 64 * i), bias));
}

// acc[t] += float(C[t]) · (w_scale · d[t]) for the first R tokens of one block's tile result.
template <int R>
QS_TARGET_AMX inline void epilogue(const int32_t* c, const uint16_t* w_scales, const float* d, __m512* acc) {
  const __m512 sw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w_scales)));
#pragma GCC unroll 16
  for (int t = 0; t < R; ++t)
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + kTok * t)), _mm512_mul_ps(sw, _mm512_set1_ps(d[t])), acc[t]);
}

// A slice of the next group for one token tile's pass to bring into L2 while it computes: a
// group's first pass otherwise waits on DRAM for every line (the hardware prefetcher runs only a
// few lines ahead of the reads, and between groups the tiles read nothing new). The slice's lines
// are spread over the pass's blocks: issued in one burst they stalled the pass on full fill buffers.
struct NextSlice {
  const uint8_t* p = nullptr;
  size_t lines = 0;
};

QS_TARGET_AMX inline NextSlice next_slice(const uint8_t* next, size_t bytes, int64_t tile, int64_t tiles) {
  if (!next) return {};
  const size_t per = (bytes / static_cast<size_t>(tiles) + 64) & ~size_t{63};
  const size_t begin = std::min(bytes, per * static_cast<size_t>(tile)), end = std::min(bytes, per * static_cast<size_t>(tile + 1));
  return {next + begin, (end - begin) / 64};
}

// The part of the slice that belongs to blocks [k, k + batch) of nb.
QS_TARGET_AMX inline void prefetch_share(const NextSlice& s, int64_t k, int64_t batch, int64_t nb) {
  const size_t l0 = s.lines * static_cast<size_t>(k) / static_cast<size_t>(nb);
  const size_t l1 = s.lines * static_cast<size_t>(k + batch) / static_cast<size_t>(nb);
  for (size_t l = l0; l < l1; ++l) _mm_prefetch(reinterpret_cast<const char*>(s.p + 64 * l), _MM_HINT_T1);
}

// Writes `blocks` blocks of a group's stored quants as signed Q8x16 steps (512 bytes per block).
using ToSignedFn = void (*)(const uint8_t* quants, int64_t blocks, Line* dst);

// One 16-row group as the tile passes read it.
struct Group {
  const uint16_t* scales;  // 16 per block
  const uint8_t* quants;   // as stored
  size_t block_bytes;      // stored quant bytes per block (Q8x16 512, Q5x16 320)
  ToSignedFn to_signed;
  Line* wq;                // signed copy: filled by the group's first pass, read by the others
  int64_t nb;
};

// One tile of up to 16 tokens.
struct TokenTile {
  const uint8_t* a;  // int8 activations, rows a_stride apart
  size_t a_stride;
  const float* d;    // activation scales: d[16·k + t]
  int64_t m;         // live tokens (rows past m are computed and dropped)
  float* out;
  size_t out_stride;
  NextSlice next;    // of the next group, for this pass to prefetch
};

// Block k's integer dots into tile C (tiles as literal numbers).
#define QS_BLOCK_DOTS(A, B, C, k)                      \
  do {                                                 \
    _tile_zero(C);                                     \
    _tile_loadd(A, tt.a + 32 * (k), tt.a_stride);      \
    _tile_loadd(B, g.wq + 8 * (k), 64);                \
    _tile_dpbssd(C, A, B);                             \
  } while (0)

// One token tile against one group: out rows for the first m <= R tokens (R a multiple of 4, so a
// short tail wastes at most 3 rows of epilogue). The tile config must be loaded.
// Tile instructions and AVX-512 ones barely overlap on this core, and each switch between them
// costs, so the tile work of 4 blocks runs as one batch, then their 4 epilogues.
// The group's first pass also makes its signed copy, batch by batch: cheaper than a separate
// sweep (and than software prefetching of the next group, which measured slower than leaving the
// sequential stream to the hardware prefetcher).
template <int R>
QS_TARGET_AMX void tile_pass(const Group& g, const TokenTile& tt, bool first) {
  alignas(64) int32_t c[4][kTok * kTok];
  __m512 acc[R];
#pragma GCC unroll 16
  for (int t = 0; t < R; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t k = 0; k < g.nb;) {
    const int64_t batch = std::min<int64_t>(4, g.nb - k);
    prefetch_share(tt.next, k, batch, g.nb);
    if (first) {
      g.to_signed(g.quants + g.block_bytes * k, batch, g.wq + 8 * k);
      memory_barrier();
    }
    if (batch == 4) {
      QS_BLOCK_DOTS(0, 2, 4, k);
      QS_BLOCK_DOTS(1, 3, 5, k + 1);
      QS_BLOCK_DOTS(0, 2, 6, k + 2);
      QS_BLOCK_DOTS(1, 3, 7, k + 3);
      _tile_stored(4, c[0], 64);
      _tile_stored(5, c[1], 64);
      _tile_stored(6, c[2], 64);
      _tile_stored(7, c[3], 64);
    } else {
      for (int64_t b = 0; b < batch; ++b) {
        QS_BLOCK_DOTS(0, 2, 4, k + b);
        _tile_stored(4, c[b], 64);
      }
    }
    for (int64_t b = 0; b < batch; ++b) epilogue<R>(c[b], g.scales + kTok * (k + b), tt.d + kTok * (k + b), acc);
    k += batch;
  }
  // A runtime index would keep acc in memory: test each register instead.
#pragma GCC unroll 16
  for (int t = 0; t < R; ++t)
    if (t < tt.m) _mm512_storeu_ps(tt.out + t * tt.out_stride, acc[t]);
}

QS_TARGET_AMX void tile_pass_any(const Group& g, const TokenTile& tt, bool first) {
  switch ((tt.m + 3) / 4) {
    case 1: return tile_pass<4>(g, tt, first);
    case 2: return tile_pass<8>(g, tt, first);
    case 3: return tile_pass<12>(g, tt, first);
    default: return tile_pass<16>(g, tt, first);
  }
}

// The tile product for groups of fp16 scales then `block_bytes` of quants per 32-column block
// (Q8x16, Q5x16), turned into signed steps by to_signed; vnni is the layout's AVX-512 kernel.
QS_TARGET_AMX void gemm_grouped_amx(GemmFn vnni, size_t block_bytes, ToSignedFn to_signed, const uint8_t* w, size_t stride, int64_t nr,
                             const uint8_t* act, size_t act_stride, int64_t n_tok, int64_t n, float* out, size_t out_stride) {
  if (n_tok < kMinTokens) return vnni(w, stride, nr, act, act_stride, n_tok, n, out, out_stride);
  const int64_t nb = n / 32, full = n_tok / kTok, rest = n_tok % kTok;
  // Leftover tokens: a padded tile when there are enough of them, else the VNNI kernel.
  const bool padded = rest >= kMinPadded;
  const int64_t tiles = full + padded;
  const uint8_t* rest_act = act + full * kTok * act_stride;
  Scratch& s = tl_scratch;
  Line* wq = grow(s.wq, static_cast<size_t>(8 * nb));
  float* d = grow(s.d, static_cast<size_t>(tiles * nb * kTok));
  gather_scales(act, act_stride, n_tok, n, tiles, d);
  const uint8_t* tail = nullptr;
  if (padded) {
    auto* t = reinterpret_cast<uint8_t*>(grow(s.tail, static_cast<size_t>(8 * nb)));  // 16 rows of n bytes
    copy_tail(rest_act, act_stride, rest, n, t);
    tail = t;
  }
  memory_barrier();
  _tile_loadconfig(&kConfig);  // per call: the config is per thread, and released below
  for (int64_t g0 = 0; g0 < nr; g0 += kTok) {
    const uint8_t* grp = w + static_cast<size_t>(g0) * stride;
    const Group g{reinterpret_cast<const uint16_t*>(grp), grp + 32 * nb, block_bytes, to_signed, wq, nb};
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const bool is_tail = tile == full;
      const TokenTile tt{is_tail ? tail : act + tile * kTok * act_stride,
                         is_tail ? static_cast<size_t>(n) : act_stride,
                         d + tile * nb * kTok,
                         is_tail ? rest : kTok,
                         out + tile * kTok * out_stride + g0,
                         out_stride,
                         next_slice(g0 + kTok < nr ? grp + kTok * stride : nullptr, kTok * stride, tile, tiles)};
      tile_pass_any(g, tt, tile == 0);
    }
    // While the group is in cache.
    if (!padded && rest > 0) vnni(grp, stride, kTok, rest_act, act_stride, rest, n, out + full * kTok * out_stride + g0, out_stride);
  }
  _tile_release();  // tiles back to their init state: the OS need not save them, the core may idle deeper
}

QS_TARGET_AMX void gemm_q8x16_amx(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride,
                           int64_t n_tok, int64_t n, float* out, size_t out_stride) {
  gemm_grouped_amx(q8x16_gemm_avx512(), 512, q8x16_to_signed, w, stride, nr, act, act_stride, n_tok, n, out, out_stride);
}

// Q5x16 (q5_x16.h): its 5-bit values unpacked to signed steps q − 16 in the group's first pass,
// instead of a converted Q8x16 copy of the group that the first pass then turned signed.
void q5x16_to_signed(const uint8_t* quants, int64_t blocks, Line* dst) {
  q5x16_blocks_to_signed(quants, blocks, reinterpret_cast<uint8_t*>(dst));
}

QS_TARGET_AMX void gemm_q5x16_amx(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride,
                           int64_t n_tok, int64_t n, float* out, size_t out_stride) {
  gemm_grouped_amx(q5x16_gemm_avx512(), 320, q5x16_to_signed, w, stride, nr, act, act_stride, n_tok, n, out, out_stride);
}

// ---- Q4Kx16 (q4k_x16.h) against Q8_K activations ----
//
// The sub-block scales are folded into the weights. A scale s < 64 is 8·s_hi + s_lo with both
// below 8, so q·s_lo and q·s_hi (q < 16) fit in int8: a group's first token tile writes two
// scaled copies of each block's 4-bit values, and per block two tile accumulators collect, over all
// 256 columns, Σ_j s_lo,j·(q·x)_j and Σ_j s_hi,j·(q·x)_j. The epilogue then needs lo + 8·hi
// where it used to store, reload and multiply eight sub-block dots per token: the same integer
// Σ_j sc_j·dot_j, so with the AVX-512 kernel's remaining integer (mins·bsums) and float steps the
// results stay bit-identical to it. Tiles are full (K = 64): two sub-blocks per product.

// A product rounded on its own (the AVX-512 kernel's float steps, unfused).
QS_TARGET_AMX inline __m512 mul_rn(__m512 a, __m512 b) { return _mm512_mul_round_ps(a, b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }

constexpr TileConfig make_q4k_config() {
  TileConfig c;
  for (int i = 0; i < 2; ++i) c.rows[i] = kTok, c.colsb[i] = 64;  // A: 16 tokens x 64 int8 (2 sub-blocks)
  for (int i = 2; i < 4; ++i) c.rows[i] = 16, c.colsb[i] = 64;    // B: 16 steps x (16 rows x 4 int8)
  for (int i = 4; i < 8; ++i) c.rows[i] = kTok, c.colsb[i] = 64;  // C: 16 tokens x 16 int32
  return c;
}

constexpr TileConfig kQ4KConfig = make_q4k_config();

// Lines of one block's scaled copies: [lo: 64][hi: 64]; within each, sub-block j's 8 lines are the
// low nibbles of its 4 stored steps (elements 0..15) then the high ones (16..31), so lines 16h..16h+15
// are the B tile of columns 64h..64h+63.
constexpr int kQ4KLines = 128;

// q·s per byte, for q < 16 and s < 8 (every product fits its byte): even and odd bytes as 16-bit products.
QS_TARGET_AMX inline __m512i times(__m512i q, __m512i s) {
  const __m512i low_bytes = _mm512_set1_epi16(0x00FF);
  const __m512i even = _mm512_mullo_epi16(_mm512_and_si512(q, low_bytes), _mm512_and_si512(s, low_bytes));
  const __m512i odd = _mm512_mullo_epi16(_mm512_srli_epi16(q, 8), _mm512_srli_epi16(s, 8));
  return _mm512_or_si512(even, _mm512_slli_epi16(odd, 8));
}

// Block `blk`'s two scaled copies into dst (kQ4KLines lines), made once per group.
QS_TARGET_AMX inline void unpack_q4k_block(const uint8_t* blk, Line* dst) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), seven = _mm512_set1_epi8(7);
  const q4kx16::Scales scales = q4kx16::unpack_scales(blk);
  for (int j = 0; j < 8; ++j) {
    // Byte 4r + i of a step line belongs to row r: its scale in all four bytes.
    const __m512i sc = q4kx16::scale_bytes(scales, j);
    const __m512i s_lo = _mm512_and_si512(sc, seven), s_hi = _mm512_srli_epi16(_mm512_andnot_si512(seven, sc), 3);
    for (int s = 0; s < 4; ++s) {
      const __m512i raw = _mm512_loadu_si512(blk + q4kx16::kQuants + 256 * j + 64 * s);
      const __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
      _mm512_store_si512(dst + 8 * j + s, times(lo, s_lo));
      _mm512_store_si512(dst + 8 * j + 4 + s, times(hi, s_lo));
      _mm512_store_si512(dst + 64 + 8 * j + s, times(lo, s_hi));
      _mm512_store_si512(dst + 64 + 8 * j + 4 + s, times(hi, s_hi));
    }
  }
}

// Block dots of the scaled copies at wk: Σ over the block's columns into CL (lo) and CH (hi).
#define QS_Q4K_BLOCK_DOTS(CL, CH, ak, wk)        \
  do {                                           \
    _tile_zero(CL);                              \
    _tile_zero(CH);                              \
    for (int h = 0; h < 4; ++h) {                \
      _tile_loadd(0, (ak) + 64 * h, a_stride);   \
      _tile_loadd(2, (wk) + 16 * h, 64);         \
      _tile_loadd(3, (wk) + 64 + 16 * h, 64);    \
      _tile_dpbssd(CL, 0, 2);                    \
      _tile_dpbssd(CH, 0, 3);                    \
    }                                            \
  } while (0)

// One token tile (the Q8_K rows of 16 tokens at a, a_stride apart; the first m real) against one
// group; R as in tile_pass. Two blocks' tile work runs as one batch, then their epilogues.
template <int R>
QS_TARGET_AMX void q4k_tile_pass(const uint8_t* grp, int64_t nb, Line* wq, const uint8_t* a, size_t a_stride, int64_t m, float* out,
                          size_t out_stride, bool first, const NextSlice& next) {
  alignas(64) int32_t c[4][kTok * kTok];
  __m512 acc[R];
#pragma GCC unroll 16
  for (int t = 0; t < R; ++t) acc[t] = _mm512_setzero_ps();
  const uint8_t* qs = a + offsetof(block_q8_K, qs);
  for (int64_t k = 0; k < nb;) {
    const int64_t batch = std::min<int64_t>(2, nb - k);
    prefetch_share(next, k, batch, nb);
    if (first) {
      for (int64_t b = 0; b < batch; ++b) unpack_q4k_block(grp + kQ4Kx16BlockBytes * (k + b), wq + kQ4KLines * (k + b));
      memory_barrier();
    }
    QS_Q4K_BLOCK_DOTS(4, 5, qs + k * sizeof(block_q8_K), wq + kQ4KLines * k);
    _tile_stored(4, c[0], 64);
    _tile_stored(5, c[1], 64);
    if (batch == 2) {
      QS_Q4K_BLOCK_DOTS(6, 7, qs + (k + 1) * sizeof(block_q8_K), wq + kQ4KLines * (k + 1));
      _tile_stored(6, c[2], 64);
      _tile_stored(7, c[3], 64);
    }
    for (int64_t b = 0; b < batch; ++b, ++k) {
      const uint8_t* blk = grp + kQ4Kx16BlockBytes * k;
      const int32_t* c_lo = c[2 * b];
      const int32_t* c_hi = c[2 * b + 1];
      const q4kx16::Scales scales = q4kx16::unpack_scales(blk);
      __m512i mins[4];
      for (int p = 0; p < 4; ++p) mins[p] = q4kx16::min_pair(scales, p);
      const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + q4kx16::kD)));
      const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + q4kx16::kDmin)));
#pragma GCC unroll 16
      for (int t = 0; t < R; ++t) {
        const auto* x = reinterpret_cast<const block_q8_K*>(a + t * a_stride) + k;
        const __m512i isum = _mm512_add_epi32(_mm512_load_si512(c_lo + kTok * t), _mm512_slli_epi32(_mm512_load_si512(c_hi + kTok * t), 3));
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->bsums));
        alignas(16) int32_t pairs[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(pairs), _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
        __m512i imin = _mm512_setzero_si512();
        for (int p = 0; p < 4; ++p) imin = _mm512_dpwssd_epi32(imin, mins[p], _mm512_set1_epi32(pairs[p]));
        const __m512 v = _mm512_sub_ps(mul_rn(d, _mm512_cvtepi32_ps(isum)), mul_rn(dmin, _mm512_cvtepi32_ps(imin)));
        acc[t] = _mm512_add_ps(acc[t], mul_rn(_mm512_set1_ps(x->d), v));
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < R; ++t)
    if (t < m) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

QS_TARGET_AMX void q4k_tile_pass_any(const uint8_t* grp, int64_t nb, Line* wq, const uint8_t* a, size_t a_stride, int64_t m, float* out,
                              size_t out_stride, bool first, const NextSlice& next) {
  switch ((m + 3) / 4) {
    case 1: return q4k_tile_pass<4>(grp, nb, wq, a, a_stride, m, out, out_stride, first, next);
    case 2: return q4k_tile_pass<8>(grp, nb, wq, a, a_stride, m, out, out_stride, first, next);
    case 3: return q4k_tile_pass<12>(grp, nb, wq, a, a_stride, m, out, out_stride, first, next);
    default: return q4k_tile_pass<16>(grp, nb, wq, a, a_stride, m, out, out_stride, first, next);
  }
}

QS_TARGET_AMX void gemm_q4kx16_amx(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride,
                            int64_t n_tok, int64_t n, float* out, size_t out_stride) {
  const GemmFn vnni = q4kx16_gemm_avx512();
  if (n_tok < kMinTokens) return vnni(w, stride, nr, act, act_stride, n_tok, n, out, out_stride);
  const int64_t nb = n / QK_K, full = n_tok / kTok, rest = n_tok % kTok;
  const bool padded = rest >= kMinPadded;
  const int64_t tiles = full + padded;
  const uint8_t* rest_act = act + full * kTok * act_stride;
  Scratch& s = tl_scratch;
  Line* wq = grow(s.wq, static_cast<size_t>(kQ4KLines * nb));
  const uint8_t* tail = nullptr;
  if (padded) {  // 16 rows of Q8_K activations (rows past `rest` are computed and dropped)
    auto* t = reinterpret_cast<uint8_t*>(grow(s.tail, (kTok * act_stride + 63) / 64));
    copy_tail(rest_act, act_stride, rest, static_cast<int64_t>(act_stride), t);
    tail = t;
  }
  memory_barrier();
  _tile_loadconfig(&kQ4KConfig);
  for (int64_t g0 = 0; g0 < nr; g0 += kTok) {
    const uint8_t* grp = w + static_cast<size_t>(g0) * stride;
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const bool is_tail = tile == full;
      q4k_tile_pass_any(grp, nb, wq, is_tail ? tail : act + tile * kTok * act_stride, act_stride, is_tail ? rest : kTok,
                        out + tile * kTok * out_stride + g0, out_stride, tile == 0,
                        next_slice(g0 + kTok < nr ? grp + kTok * stride : nullptr, kTok * stride, tile, tiles));
    }
    if (!padded && rest > 0) vnni(grp, stride, kTok, rest_act, act_stride, rest, n, out + full * kTok * out_stride + g0, out_stride);
  }
  _tile_release();
}

}  // namespace

GemmFn q8x16_gemm_amx() { return amx_usable() ? gemm_q8x16_amx : nullptr; }

GemmFn q4kx16_gemm_amx() { return amx_usable() ? gemm_q4kx16_amx : nullptr; }

GemmFn q5x16_gemm_amx() { return amx_usable() ? gemm_q5x16_amx : nullptr; }

}  // namespace qs
