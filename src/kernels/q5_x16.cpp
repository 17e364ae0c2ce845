// Q5x16: Q5_0 in 16-row groups. Per group: the fp16 scales block by block (16 per block, as in
// Q8x16), then per 32-column block 320 bytes of quants:
//   nibbles[j] (j < 4), 64 bytes: byte 4r+i holds row r's value 4j+i in its low nibble and value
//     4(j+4)+i in its high nibble — the low 4 bits of Q8x16 steps j and j+4;
//   high[64]: byte 4r+i holds bit 4 of row r's value 4s+i in its bit s (s < 8).
// So one 64-byte load of nibbles plus one shared load of high bits rebuild two Q8x16 steps of 5-bit
// unsigned values q (the weight is d·(q − 16)), which feed the same VNNI products as Q8x16 with a
// correction of −16·Σx instead of −128·Σx.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside the intrinsics headers
#include "kernels/q5_x16.h"

#include <immintrin.h>

#include <cstring>

#include "kernels/prefetch.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

#define QS_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

namespace qs {

namespace {

constexpr size_t kQuantBytes = 320;  // per block: 4 × 64 nibbles + 64 high bits
constexpr size_t kHigh = 256;
static_assert(32 + kQuantBytes == kQ5x16BlockBytes);

// Row r's 32 values (0..31) of one file block.
void unpack_q5_0(const block_q5_0& b, uint8_t* q) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int i = 0; i < 16; ++i) {
    q[i] = static_cast<uint8_t>((b.qs[i] & 0xF) | (((qh >> i) & 1) << 4));
    q[i + 16] = static_cast<uint8_t>((b.qs[i] >> 4) | (((qh >> (i + 16)) & 1) << 4));
  }
}

// Value e (0..31) of lane r in one block's quants.
inline int q5x16_quant(const uint8_t* blk, int r, int e) {
  const int s = e / 4, i = e % 4, byte = 4 * r + i;
  const int nib = (blk[64 * (s % 4) + byte] >> (s < 4 ? 0 : 4)) & 0xF;
  return nib | (((blk[kHigh + byte] >> s) & 1) << 4);
}

}  // namespace

void pack_q5x16_group(const uint8_t* rows, size_t row_stride, int64_t cols, uint8_t* grp) {
  const int64_t nb = cols / 32;
  uint8_t* quants = grp + 32 * nb;
  std::memset(quants, 0, kQuantBytes * static_cast<size_t>(nb));
  uint8_t q[32];
  for (int r = 0; r < 16; ++r) {
    const auto* b = reinterpret_cast<const block_q5_0*>(rows + r * row_stride);
    for (int64_t k = 0; k < nb; ++k) {
      std::memcpy(grp + 2 * (16 * k + r), &b[k].d, 2);
      unpack_q5_0(b[k], q);
      uint8_t* blk = quants + kQuantBytes * k;
      for (int e = 0; e < 32; ++e) {
        const int s = e / 4, byte = 4 * r + e % 4;
        blk[64 * (s % 4) + byte] |= static_cast<uint8_t>((q[e] & 0xF) << (s < 4 ? 0 : 4));
        blk[kHigh + byte] |= static_cast<uint8_t>((q[e] >> 4) << s);
      }
    }
  }
}

void q5x16_row_to_float(const uint8_t* grp, int lane, int64_t cols, float* out) {
  const int64_t nb = cols / 32;
  const auto* scales = reinterpret_cast<const uint16_t*>(grp);
  const uint8_t* quants = grp + 32 * nb;
  for (int64_t k = 0; k < nb; ++k) {
    const float d = fp16_to_f32(scales[16 * k + lane]);  // the same product as deq_q5_0
    for (int e = 0; e < 32; ++e) out[32 * k + e] = static_cast<float>(q5x16_quant(quants + kQuantBytes * k, lane, e) - 16) * d;
  }
}

namespace {

// One block's 8 Q8x16 steps as unsigned 5-bit values (see the layout at the top).
QS_TARGET inline void q5_steps(const uint8_t* blk, __m512i w[8]) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), b16 = _mm512_set1_epi8(16);
  const __m512i high = _mm512_loadu_si512(blk + kHigh);
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m512i nib = _mm512_loadu_si512(blk + 64 * j);
    const __m512i lo = _mm512_and_si512(nib, m4), hi = _mm512_and_si512(_mm512_srli_epi16(nib, 4), m4);
    w[j] = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(high, _mm512_set1_epi8(static_cast<char>(1 << j))), lo, b16);
    w[j + 4] = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(high, _mm512_set1_epi8(static_cast<char>(1 << (j + 4)))), hi, b16);
  }
}

QS_TARGET void group_to_q8x16_avx512(const uint8_t* grp, int64_t nb, uint8_t* out) {
  std::memcpy(out, grp, static_cast<size_t>(32 * nb));  // the scales, unchanged
  const uint8_t* quants = grp + 32 * nb;
  uint8_t* q8 = out + 32 * nb;
  const __m512i bias = _mm512_set1_epi8(112);  // Q8x16 stores (q − 16) + 128
  for (int64_t k = 0; k < nb; ++k) {
    __m512i w[8];
    q5_steps(quants + kQuantBytes * k, w);
    for (int s = 0; s < 8; ++s) _mm512_storeu_si512(q8 + 512 * k + 64 * s, _mm512_add_epi8(w[s], bias));
  }
}

void group_to_q8x16_scalar(const uint8_t* grp, int64_t nb, uint8_t* out) {
  std::memcpy(out, grp, static_cast<size_t>(32 * nb));
  const uint8_t* quants = grp + 32 * nb;
  uint8_t* q8 = out + 32 * nb;
  for (int64_t k = 0; k < nb; ++k)
    for (int r = 0; r < 16; ++r)
      for (int e = 0; e < 32; ++e)
        q8[512 * k + 64 * (e / 4) + 4 * r + e % 4] = static_cast<uint8_t>(q5x16_quant(quants + kQuantBytes * k, r, e) + 112);
}

}  // namespace

void q5x16_group_to_q8x16(const uint8_t* grp, int64_t cols, uint8_t* out) {
  if (active_simd_level() >= SimdLevel::Avx512) return group_to_q8x16_avx512(grp, cols / 32, out);
  group_to_q8x16_scalar(grp, cols / 32, out);
}

namespace {

// Scalar reference: the Q8x16 scalar kernel's arithmetic, with Σ q·x − 16·Σx.
void gemm_q5x16_scalar(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride, int64_t n_tok,
                       int64_t n, float* out, size_t out_stride) {
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
          int32_t isum = 0;
          for (int e = 0; e < 32; ++e) isum += q5x16_quant(quants + kQuantBytes * k, r, e) * xq[32 * k + e];
          s += fp16_to_f32(scales[16 * k + r]) * xd[k] * static_cast<float>(isum - 16 * xs[k]);
        }
        out[t * out_stride + g0 + r] = s;
      }
    }
  }
}

// The Q8x16 VNNI kernel's structure (q8x16_group in qdot_avx512.cpp) with the weights rebuilt in
// registers; the integer sums are exact either way and the float steps are the same, so the
// results are bit-identical to it. Up to 4 tokens share each block's unpacking.
template <int T>
QS_TARGET inline void q5x16_group(const uint8_t* grp, int64_t nb, const uint8_t* act, size_t act_stride, int64_t n,
                                  float* out, size_t out_stride) {
  const auto* scales = reinterpret_cast<const uint16_t*>(grp);
  const uint8_t* quants = grp + 32 * nb;
  const int8_t* xq[T];
  const float* xd[T];
  const int32_t* xs[T];
  for (int t = 0; t < T; ++t) {
    xq[t] = reinterpret_cast<const int8_t*>(act + t * act_stride);
    xd[t] = reinterpret_cast<const float*>(xq[t] + n);
    xs[t] = reinterpret_cast<const int32_t*>(xd[t] + nb);
  }
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  const size_t pfd = prefetch_distance();
  for (int64_t k = 0; k < nb; ++k) {
    if (pfd) prefetch_lines(quants + kQuantBytes * k + pfd, 5);
    __m512i w[8];
    q5_steps(quants + kQuantBytes * k, w);
    __m512i i0[T], i1[T];
    for (int t = 0; t < T; ++t) {
      i0[t] = _mm512_set1_epi32(-16 * xs[t][k]);  // the −16 offset of the stored values
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
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

QS_TARGET void gemm_q5x16_avx512(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride,
                                 int64_t n_tok, int64_t n, float* out, size_t out_stride) {
  const int64_t nb = n / 32;
  for (int64_t g0 = 0; g0 < nr; g0 += 16) {
    const uint8_t* grp = w + static_cast<size_t>(g0) * stride;
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4) q5x16_group<4>(grp, nb, act + t * act_stride, act_stride, n, out + t * out_stride + g0, out_stride);
    for (; t + 2 <= n_tok; t += 2) q5x16_group<2>(grp, nb, act + t * act_stride, act_stride, n, out + t * out_stride + g0, out_stride);
    for (; t < n_tok; ++t) q5x16_group<1>(grp, nb, act + t * act_stride, act_stride, n, out + t * out_stride + g0, out_stride);
  }
}

}  // namespace

GemmFn q5x16_gemm_kernel(SimdLevel level) { return level >= SimdLevel::Avx512 ? gemm_q5x16_avx512 : gemm_q5x16_scalar; }

}  // namespace qs
