// The Q8x16 product's core, shared by the 16-row layouts whose weights are, or are rebuilt into,
// Q8x16's operands: per 32-column block, 8 steps of 64 unsigned bytes (4 values of 16 rows each)
// that equal q + offset, with q the signed weight and one fp16 scale per row (Q8x16: offset 128,
// stored as is; Q5x16: offset 16, rebuilt from nibbles and high bits). Activations are
// Q8_32Split: n int8, then n/32 float scales, then n/32 int32 sums (for the offset correction).
//
// A Layout provides kBlockBytes (its quant bytes per block, after the group's scales), kOffset,
// value(blk, r, e) (row r's stored value e, for the scalar reference) and, for the AVX-512 kernel,
// steps(blk, w) filling the 8 step vectors. Include only from files built for AVX-512 VNNI
// targets per function (the kernels carry their own target attribute).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/prefetch.h"
#include "tensor/fp16.h"
#include "kernels/target.h"


namespace qs::grouped_q8 {

// Q8x16 itself (see mat_view.h): the steps are stored as they are used.
struct Q8x16Layout {
  static constexpr size_t kBlockBytes = 512;
  static constexpr int32_t kOffset = 128;
  static int value(const uint8_t* blk, int r, int e) { return blk[64 * (e / 4) + 4 * r + e % 4]; }
  QS_TARGET_AVX512_VNNI static void steps(const uint8_t* blk, __m512i w[8]) {
    for (int s = 0; s < 8; ++s) w[s] = _mm512_loadu_si512(blk + 64 * s);
  }
};

// The scalar reference: Σ_k d_k·x_d·(Σ (q + offset)·x − offset·Σx) per row and token.
template <class Layout>
void gemm_scalar(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride, int64_t n_tok, int64_t n,
                 float* out, size_t out_stride) {
  const int64_t nb = n / 32;
  for (int64_t g0 = 0; g0 < nr; g0 += 16) {
    const uint8_t* grp = w + static_cast<size_t>(g0) * stride;
    const auto* scales = reinterpret_cast<const uint16_t*>(grp);
    const uint8_t* quants = grp + 32 * nb;
    for (int64_t t = 0; t < n_tok; ++t) {
      const auto* xq = reinterpret_cast<const int8_t*>(act + t * act_stride);
      const auto* xd = reinterpret_cast<const float*>(xq + n);
      const auto* xs = reinterpret_cast<const int32_t*>(xd + nb);
      for (int r = 0; r < 16; ++r) {
        float s = 0.f;
        for (int64_t k = 0; k < nb; ++k) {
          const uint8_t* blk = quants + Layout::kBlockBytes * k;
          int32_t isum = 0;
          for (int e = 0; e < 32; ++e) isum += Layout::value(blk, r, e) * xq[32 * k + e];
          s += fp16_to_f32(scales[16 * k + r]) * xd[k] * static_cast<float>(isum - Layout::kOffset * xs[k]);
        }
        out[t * out_stride + g0 + r] = s;
      }
    }
  }
}

// Block k of one group against T tokens, added to acc: each step vector feeds one VNNI product per
// token that advances all 16 rows at once (results land in the 16 lanes, no horizontal sums). Two
// integer accumulators per token shorten the dependency chains; the integer sums are exact, so every
// layout gives the same bits for the same weights.
template <class Layout, int T>
QS_TARGET_AVX512_VNNI inline void block_tokens(const uint8_t* grp, int64_t nb, int64_t k, const int8_t* const* xq,
                                              const float* const* xd, const int32_t* const* xs, size_t pfd, __m512* acc) {
  const auto* scales = reinterpret_cast<const uint16_t*>(grp);
  const uint8_t* blk = grp + 32 * nb + Layout::kBlockBytes * k;
  if (pfd) prefetch_lines(blk + pfd, static_cast<int>(Layout::kBlockBytes / 64));
  __m512i w[8];
  Layout::steps(blk, w);
  __m512i i0[T], i1[T];
  for (int t = 0; t < T; ++t) {
    i0[t] = _mm512_set1_epi32(-Layout::kOffset * xs[t][k]);
    i1[t] = _mm512_setzero_si512();
  }
  for (int g = 0; g < 8; g += 2) {
    for (int t = 0; t < T; ++t) {
      int32_t x0, x1;
      std::memcpy(&x0, xq[t] + 32 * k + 4 * g, 4);
      std::memcpy(&x1, xq[t] + 32 * k + 4 * g + 4, 4);
      i0[t] = _mm512_dpbusd_epi32(i0[t], w[g], _mm512_set1_epi32(x0));
      i1[t] = _mm512_dpbusd_epi32(i1[t], w[g + 1], _mm512_set1_epi32(x1));
    }
  }
  const __m512 sw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + 16 * k)));
  for (int t = 0; t < T; ++t)
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(i0[t], i1[t])), _mm512_mul_ps(sw, _mm512_set1_ps(xd[t][k])), acc[t]);
}

// G consecutive groups (group_bytes apart) against T tokens; the groups advance block by block
// together (kDecodeStreams in tuning.h).
template <class Layout, int T, int G = 1>
QS_TARGET_AVX512_VNNI inline void group_tokens(const uint8_t* grp, size_t group_bytes, int64_t nb, const uint8_t* act,
                                              size_t act_stride, int64_t n, float* out, size_t out_stride) {
  const int8_t* xq[T];
  const float* xd[T];
  const int32_t* xs[T];
  for (int t = 0; t < T; ++t) {
    xq[t] = reinterpret_cast<const int8_t*>(act + t * act_stride);
    xd[t] = reinterpret_cast<const float*>(xq[t] + n);
    xs[t] = reinterpret_cast<const int32_t*>(xd[t] + nb);
  }
  __m512 acc[G][T];
  for (int g = 0; g < G; ++g)
    for (int t = 0; t < T; ++t) acc[g][t] = _mm512_setzero_ps();
  const size_t pfd = prefetch_distance();
  const int64_t head_lines = pfd ? static_cast<int64_t>(32 * nb + pfd) / 64 : 0;  // the scales come first
  const int64_t per_block = (head_lines + nb - 1) / nb;
  for (int64_t k = 0; k < nb; ++k) {
    prefetch_next_groups(grp + G * group_bytes, group_bytes, G, k, per_block, head_lines);
    for (int g = 0; g < G; ++g) block_tokens<Layout, T>(grp + g * group_bytes, nb, k, xq, xd, xs, pfd, acc[g]);
  }
  for (int g = 0; g < G; ++g)
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + t * out_stride + 16 * g, acc[g][t]);
}

// GemmFn's contract over whole groups: up to 4 tokens share every weight load.
template <class Layout>
QS_TARGET_AVX512_VNNI void gemm_avx512(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride,
                                      int64_t n_tok, int64_t n, float* out, size_t out_stride) {
  const int64_t nb = n / 32;
  const size_t gb = 16 * stride;
  int64_t g0 = 0;
  if (n_tok == 1)
    for (; g0 + 16 * kDecodeStreams <= nr; g0 += 16 * kDecodeStreams)
      group_tokens<Layout, 1, kDecodeStreams>(w + g0 * stride, gb, nb, act, act_stride, n, out + g0, out_stride);
  for (; g0 < nr; g0 += 16) {
    const uint8_t* grp = w + static_cast<size_t>(g0) * stride;
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4) group_tokens<Layout, 4>(grp, gb, nb, act + t * act_stride, act_stride, n, out + t * out_stride + g0, out_stride);
    for (; t + 2 <= n_tok; t += 2) group_tokens<Layout, 2>(grp, gb, nb, act + t * act_stride, act_stride, n, out + t * out_stride + g0, out_stride);
    for (; t < n_tok; ++t) group_tokens<Layout, 1>(grp, gb, nb, act + t * act_stride, act_stride, n, out + t * out_stride + g0, out_stride);
  }
}

}  // namespace qs::grouped_q8
