// Q4Kx16: Q4_K repacked at load so one matrix-vector kernel advances 16 rows per VNNI product.
// The AVX-512 functions carry per-function target attributes (like qdot_avx512.cpp), so the binary
// still runs on CPUs without AVX-512; q4kx16_gemm_kernel hands them out only at the Avx512 level.
// GCC 12 false positives inside the intrinsics headers (their _mm512_undefined_* placeholders).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/q4k_x16.h"

#include <immintrin.h>

#include <cstring>

#include "kernels/prefetch.h"
#include "kernels/q4k_x16_scales.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "kernels/target.h"


namespace qs {

namespace {

using namespace q4kx16;  // the block's byte offsets (q4k_x16.h)
static_assert(kQuants + 8 * 4 * 64 == kQ4Kx16BlockBytes);

// Row `lane`'s 12 scale bytes in their file order (the three words stored apart).
inline void row_scales(const uint8_t* blk, int lane, uint8_t scales[12]) {
  for (int w = 0; w < 3; ++w) std::memcpy(scales + 4 * w, blk + kScales + 64 * w + 4 * lane, 4);
}

// A product rounded on its own: GCC may fuse a plain _mm512_mul_ps with a following add into an
// FMA, whose single rounding would differ from the scalar reference.
QS_TARGET_AVX512_VNNI inline __m512 mul_rn(__m512 a, __m512 b) {
  return _mm512_mul_round_ps(a, b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

}  // namespace

// Sub-block j = 2c + h of a file block is nibble h of qs[32c .. 32c+31] (element 32j + l is nibble h
// of qs[32c + l]). The group's byte (j, s, row, i) pairs elements 32j + 4s + i (low) and
// 32j + 16 + 4s + i (high): four bytes at a time, nibbles of two 32-bit words of qs.
void pack_q4kx16_group(const uint8_t* rows, size_t row_stride, int64_t cols, uint8_t* grp) {
  constexpr uint32_t kLow = 0x0F0F0F0Fu;
  for (int r = 0; r < 16; ++r) {
    const auto* b = reinterpret_cast<const block_q4_K*>(rows + r * row_stride);
    for (int64_t k = 0; k < cols / QK_K; ++k) {
      uint8_t* blk = grp + kQ4Kx16BlockBytes * k;
      std::memcpy(blk + kD + 2 * r, &b[k].d, 2);
      std::memcpy(blk + kDmin + 2 * r, &b[k].dmin, 2);
      for (int w = 0; w < 3; ++w) std::memcpy(blk + kScales + 64 * w + 4 * r, b[k].scales + 4 * w, 4);
      for (int c = 0; c < 4; ++c)
        for (int s = 0; s < 4; ++s) {
          uint32_t a, bb;
          std::memcpy(&a, b[k].qs + 32 * c + 4 * s, 4);
          std::memcpy(&bb, b[k].qs + 32 * c + 16 + 4 * s, 4);
          const uint32_t lo = (a & kLow) | (bb & kLow) << 4, hi = (a >> 4 & kLow) | (bb & ~kLow);
          std::memcpy(blk + kQuants + 256 * (2 * c) + 64 * s + 4 * r, &lo, 4);
          std::memcpy(blk + kQuants + 256 * (2 * c + 1) + 64 * s + 4 * r, &hi, 4);
        }
    }
  }
}

// The 4-bit value of element e (of 256) of row `lane` in one group block.
static inline int q4kx16_quant(const uint8_t* blk, int lane, int e) {
  const int j = e / 32, l = e % 32;
  const uint8_t byte = blk[kQuants + 256 * j + 64 * (l % 16 / 4) + 4 * lane + l % 4];
  return l < 16 ? byte & 0xF : byte >> 4;
}

void q4kx16_row_to_float(const uint8_t* grp, int lane, int64_t cols, float* out) {
  for (int64_t k = 0; k < cols / QK_K; ++k, out += QK_K) {
    const uint8_t* blk = grp + kQ4Kx16BlockBytes * k;
    uint16_t dh, mh;
    std::memcpy(&dh, blk + kD + 2 * lane, 2);
    std::memcpy(&mh, blk + kDmin + 2 * lane, 2);
    const float d = fp16_to_f32(dh), dmin = fp16_to_f32(mh);
    uint8_t scales[12];
    row_scales(blk, lane, scales);
    for (int j = 0; j < 8; ++j) {
      // The same float operations as dequantize_row's Q4_K (d·sc, dmin·m, then d1·q − m1).
      uint8_t sc, m;
      get_scale_min_k4(j, scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      const uint8_t* q = blk + kQuants + 256 * j + 4 * lane;
      float* y = out + 32 * j;
      for (int s = 0; s < 4; ++s)
        for (int i = 0; i < 4; ++i) {
          y[4 * s + i] = d1 * static_cast<float>(q[64 * s + i] & 0xF) - m1;
          y[16 + 4 * s + i] = d1 * static_cast<float>(q[64 * s + i] >> 4) - m1;
        }
    }
  }
}

namespace {

// Scalar reference: per row the same integers and float steps as the file layout's scalar Q4_K
// kernel (qdot_scalar.cpp), so the two agree bit for bit.
void gemm_q4kx16_scalar(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride, int64_t n_tok,
                        int64_t n, float* out, size_t out_stride) {
  const int64_t nb = n / QK_K;
  for (int64_t g0 = 0; g0 < nr; g0 += 16) {
    const uint8_t* grp = w + static_cast<size_t>(g0) * stride;
    for (int64_t t = 0; t < n_tok; ++t) {
      const auto* a = reinterpret_cast<const block_q8_K*>(act + t * act_stride);
      for (int r = 0; r < 16; ++r) {
        float s = 0.f;
        for (int64_t k = 0; k < nb; ++k) {
          const uint8_t* blk = grp + kQ4Kx16BlockBytes * k;
          uint8_t scales[12];
          row_scales(blk, r, scales);
          int32_t sumi = 0, summ = 0;
          for (int j = 0; j < 8; ++j) {
            int32_t isum = 0;
            for (int l = 0; l < 32; ++l) isum += q4kx16_quant(blk, r, 32 * j + l) * a[k].qs[32 * j + l];
            uint8_t sc, m;
            get_scale_min_k4(j, scales, sc, m);
            sumi += sc * isum;
            summ += m * (a[k].bsums[2 * j] + a[k].bsums[2 * j + 1]);
          }
          uint16_t dh, mh;
          std::memcpy(&dh, blk + kD + 2 * r, 2);
          std::memcpy(&mh, blk + kDmin + 2 * r, 2);
          s += a[k].d * (fp16_to_f32(dh) * static_cast<float>(sumi) - fp16_to_f32(mh) * static_cast<float>(summ));
        }
        out[t * out_stride + g0 + r] = s;
      }
    }
  }
}

QS_TARGET_AVX512_VNNI inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Block k of one group against T tokens, added to acc. Lane r gathers row r's
// Σ_j sc_j·(q·x over sub-block j) and Σ_j min_j·bsum_j in int32, exactly as the scalar kernel, then
// applies d, dmin and x_d in float.
//
// The high nibbles are not shifted down: masked in place they are 16× their value, the VNNI sums
// stay exact (no saturation in vpdpbusd), and one shift of the sum per sub-block replaces four of
// the bytes. Each sum is then scaled and accumulated by vpdpwssd, which multiplies a lane's low
// 16 bits by the scale and its high 16 bits by zero: exact because a sub-block's half-sum
// |Σ 16 nibbles · x| ≤ 16·15·128 fits in int16 (the lane's high half is its sign extension).
// Against mullo + adds this takes the kernel from ~125 to ~95 port-0 operations per block.
template <int T>
QS_TARGET_AVX512_VNNI inline void q4kx16_block(const uint8_t* blk, const block_q8_K* const* a, int64_t k, size_t pfd, __m512* acc) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m4h = _mm512_set1_epi8(static_cast<char>(0xF0));
  if (pfd) prefetch_lines(blk + pfd, kQuants / 64);
  const Scales scales = unpack_scales(blk);
  __m512i mins[4], isum[T], imin[T];
  for (int p = 0; p < 4; ++p) mins[p] = min_pair(scales, p);
  for (int t = 0; t < T; ++t) {
    // bsum_j = bsums[2j] + bsums[2j+1]; 32-bit lane p of `pairs` holds (bsum_2p, bsum_2p+1).
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][k].bsums));
    alignas(16) int32_t pairs[4];
    const __m128i sums = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    _mm_store_si128(reinterpret_cast<__m128i*>(pairs), sums);
    imin[t] = _mm512_setzero_si512();
    for (int p = 0; p < 4; ++p) imin[t] = _mm512_dpwssd_epi32(imin[t], mins[p], _mm512_set1_epi32(pairs[p]));
    isum[t] = _mm512_setzero_si512();
  }
  // Unrolled so each sub-block's scale vector is one shuffle with a fixed index (rolled, the scales
  // went through the stack: 5% slower from memory in bench_kernels).
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    const uint8_t* q = blk + kQuants + 256 * j;
    if (pfd) prefetch_lines(q + pfd, 4);
    __m512i s0[T], s1[T];
    for (int t = 0; t < T; ++t) s0[t] = s1[t] = _mm512_setzero_si512();
    for (int s = 0; s < 4; ++s) {
      const __m512i raw = _mm512_loadu_si512(q + 64 * s);
      const __m512i lo = _mm512_and_si512(raw, m4), hi16 = _mm512_and_si512(raw, m4h);
      for (int t = 0; t < T; ++t) {
        s0[t] = _mm512_dpbusd_epi32(s0[t], lo, bcast4(a[t][k].qs + 32 * j + 4 * s));
        s1[t] = _mm512_dpbusd_epi32(s1[t], hi16, bcast4(a[t][k].qs + 32 * j + 16 + 4 * s));
      }
    }
    const __m512i sc = scale_lanes(scales, j);
    for (int t = 0; t < T; ++t) {
      isum[t] = _mm512_dpwssd_epi32(isum[t], s0[t], sc);
      isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_srai_epi32(s1[t], 4), sc);
    }
  }
  const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kD)));
  const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kDmin)));
  for (int t = 0; t < T; ++t) {
    // x_d·(d·sumi − dmin·summ), added block by block: the scalar kernel's own steps, lane by lane
    // (unfused products), so both give the same bits. It costs a few operations per block.
    const __m512 v = _mm512_sub_ps(mul_rn(d, _mm512_cvtepi32_ps(isum[t])), mul_rn(dmin, _mm512_cvtepi32_ps(imin[t])));
    acc[t] = _mm512_add_ps(acc[t], mul_rn(_mm512_set1_ps(a[t][k].d), v));
  }
}

// G consecutive groups (group_bytes apart) against T tokens, each weight load serving all tokens.
// The groups advance block by block together: G read streams in flight per thread instead of one
// (see kDecodeStreams in tuning.h).
template <int T, int G>
QS_TARGET_AVX512_VNNI inline void q4kx16_groups(const uint8_t* grp, size_t group_bytes, int64_t nb, const uint8_t* act, size_t act_stride,
                                    float* out, size_t out_stride) {
  const block_q8_K* a[T];
  for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const block_q8_K*>(act + t * act_stride);
  __m512 acc[G][T];
  for (int g = 0; g < G; ++g)
    for (int t = 0; t < T; ++t) acc[g][t] = _mm512_setzero_ps();
  // Farther than the common distance (tuning.h): the Q8x16 kernel slowed at this one.
  const size_t pfd = prefetch_distance() * static_cast<size_t>(tuning().q4kx16_prefetch_percent) / 100;
  const int64_t head_lines = static_cast<int64_t>(pfd) / 64;  // the scales are inside each block
  const int64_t per_block = (head_lines + nb - 1) / nb;
  for (int64_t k = 0; k < nb; ++k) {
    prefetch_next_groups(grp + G * group_bytes, group_bytes, G, k, per_block, head_lines);
    for (int g = 0; g < G; ++g) q4kx16_block<T>(grp + g * group_bytes + kQ4Kx16BlockBytes * k, a, k, pfd, acc[g]);
  }
  for (int g = 0; g < G; ++g)
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + t * out_stride + 16 * g, acc[g][t]);
}

QS_TARGET_AVX512_VNNI void gemm_q4kx16_avx512(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride,
                                  int64_t n_tok, int64_t n, float* out, size_t out_stride) {
  const int64_t nb = n / QK_K;
  const size_t gb = 16 * stride;
  int64_t g0 = 0;
  if (n_tok == 1)
    for (; g0 + 16 * kDecodeStreams <= nr; g0 += 16 * kDecodeStreams)
      q4kx16_groups<1, kDecodeStreams>(w + g0 * stride, gb, nb, act, act_stride, out + g0, out_stride);
  for (; g0 < nr; g0 += 16) {
    const uint8_t* grp = w + static_cast<size_t>(g0) * stride;
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4) q4kx16_groups<4, 1>(grp, gb, nb, act + t * act_stride, act_stride, out + t * out_stride + g0, out_stride);
    for (; t + 2 <= n_tok; t += 2) q4kx16_groups<2, 1>(grp, gb, nb, act + t * act_stride, act_stride, out + t * out_stride + g0, out_stride);
    for (; t < n_tok; ++t) q4kx16_groups<1, 1>(grp, gb, nb, act + t * act_stride, act_stride, out + t * out_stride + g0, out_stride);
  }
}

}  // namespace

GemmFn q4kx16_gemm_avx512() { return gemm_q4kx16_avx512; }

GemmFn q4kx16_gemm_kernel(SimdLevel level) {
  if (level < SimdLevel::Avx512) return gemm_q4kx16_scalar;
  if (GemmFn amx = q4kx16_gemm_amx()) return amx;
  return gemm_q4kx16_avx512;
}

}  // namespace qs
