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

#include "kernels/grouped_q8.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "kernels/target.h"


namespace qs {

namespace {

constexpr size_t kQuantBytes = 320;  // per block: 4 × 64 nibbles + 64 high bits
constexpr size_t kHigh = 256;
static_assert(32 + kQuantBytes == kQ5x16BlockBytes);

// Value e (0..31) of lane r in one block's quants.
inline int q5x16_quant(const uint8_t* blk, int r, int e) {
  const int s = e / 4, i = e % 4, byte = 4 * r + i;
  const int nib = (blk[64 * (s % 4) + byte] >> (s < 4 ? 0 : 4)) & 0xF;
  return nib | (((blk[kHigh + byte] >> s) & 1) << 4);
}

// Bits i, i+4, ..., i+28 of qh (bit 4 of values i, i+4, ..., i+28) as bits 0..7.
inline uint8_t every_fourth_bit(uint32_t qh, int i) {
  uint32_t x = (qh >> i) & 0x11111111u;
  x = (x | x >> 3) & 0x03030303u;
  x = (x | x >> 6) & 0x000F000Fu;
  return static_cast<uint8_t>(x | x >> 12);
}

}  // namespace

// Nibble line j's 4 bytes of a row are the file's qs[4j..4j+3] as they are (qs[a] holds value a in
// its low nibble and value a + 16 = 4(j+4)+i in its high one), so packing is copies and bit gathers.
void pack_q5x16_group(const uint8_t* rows, size_t row_stride, int64_t cols, uint8_t* grp) {
  const int64_t nb = cols / 32;
  uint8_t* quants = grp + 32 * nb;
  for (int r = 0; r < 16; ++r) {
    const auto* b = reinterpret_cast<const block_q5_0*>(rows + r * row_stride);
    for (int64_t k = 0; k < nb; ++k) {
      std::memcpy(grp + 2 * (16 * k + r), &b[k].d, 2);
      uint8_t* blk = quants + kQuantBytes * k;
      for (int j = 0; j < 4; ++j) std::memcpy(blk + 64 * j + 4 * r, b[k].qs + 4 * j, 4);
      uint32_t qh;
      std::memcpy(&qh, b[k].qh, 4);
      for (int i = 0; i < 4; ++i) blk[kHigh + 4 * r + i] = every_fourth_bit(qh, i);
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
QS_TARGET_AVX512_VNNI inline void q5_steps(const uint8_t* blk, __m512i w[8]) {
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

QS_TARGET_AVX512_VNNI void group_to_q8x16_avx512(const uint8_t* grp, int64_t nb, uint8_t* out) {
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

QS_TARGET_AVX512_VNNI void blocks_to_signed_avx512(const uint8_t* quants, int64_t blocks, uint8_t* dst) {
  const __m512i minus16 = _mm512_set1_epi8(-16);
  for (int64_t k = 0; k < blocks; ++k) {
    __m512i w[8];
    q5_steps(quants + kQuantBytes * k, w);
    for (int s = 0; s < 8; ++s) _mm512_storeu_si512(dst + 512 * k + 64 * s, _mm512_add_epi8(w[s], minus16));
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

void q5x16_blocks_to_signed(const uint8_t* quants, int64_t blocks, uint8_t* dst) { blocks_to_signed_avx512(quants, blocks, dst); }

void q5x16_group_to_q8x16(const uint8_t* grp, int64_t cols, uint8_t* out) {
  if (active_simd_level() >= SimdLevel::Avx512) return group_to_q8x16_avx512(grp, cols / 32, out);
  group_to_q8x16_scalar(grp, cols / 32, out);
}

namespace {

// Q5x16 in grouped_q8's terms: stored value q (0..31), weight d·(q − 16).
struct Q5x16Layout {
  static constexpr size_t kBlockBytes = kQuantBytes;
  static constexpr int32_t kOffset = 16;
  static int value(const uint8_t* blk, int r, int e) { return q5x16_quant(blk, r, e); }
  QS_TARGET_AVX512_VNNI static void steps(const uint8_t* blk, __m512i w[8]) { q5_steps(blk, w); }
};

}  // namespace

// At Avx512 bit-identical to the Q8x16 VNNI kernel on the converted group (exact integer sums,
// the same float steps); up to 4 tokens share each block's unpacking.
GemmFn q5x16_gemm_avx512() { return grouped_q8::gemm_avx512<Q5x16Layout>; }

GemmFn q5x16_gemm_kernel(SimdLevel level) {
  if (level >= SimdLevel::Avx512) {
    if (GemmFn amx = q5x16_gemm_amx()) return amx;
    return q5x16_gemm_avx512();
  }
  return grouped_q8::gemm_scalar<Q5x16Layout>;
}

}  // namespace qs
