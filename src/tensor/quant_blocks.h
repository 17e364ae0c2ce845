// On-disk block layouts of ggml's quantized formats (ggml-common.h), field for field.
// fp16 fields are raw IEEE half bits (see fp16.h). Every struct has only 1- and 2-byte members
// (except Q8_K, an in-memory activation format), so there is no padding and sizes match ggml.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qs {

inline constexpr int QK4_0 = 32;
inline constexpr int QK4_1 = 32;
inline constexpr int QK5_0 = 32;
inline constexpr int QK5_1 = 32;
inline constexpr int QK8_0 = 32;
inline constexpr int QK8_1 = 32;
inline constexpr int QK_K = 256;
inline constexpr int K_SCALE_SIZE = 12;

// x = (q - 8) * d, q in 0..15; qs[j] holds element j (low nibble) and j+16 (high nibble).
struct block_q4_0 {
  uint16_t d;
  uint8_t qs[QK4_0 / 2];
};

// x = q * d + m.
struct block_q4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[QK4_1 / 2];
};

// x = (q - 16) * d; the 5th bit of element j is bit j of qh (little-endian u32).
struct block_q5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[QK5_0 / 2];
};

struct block_q5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
};

struct block_q8_0 {
  uint16_t d;
  int8_t qs[QK8_0];
};

// s = d * sum(qs), precomputed for dot products with offset formats.
struct block_q8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[QK8_1];
};

// 16 sub-blocks of 16: scales[i] low nibble = scale, high nibble = min; x = d*sc*q - dmin*m.
struct block_q2_K {
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  uint16_t d;
  uint16_t dmin;
};

// 3-bit: low 2 bits in qs, high bit in hmask (set = no -4 offset); 16 6-bit scales packed in 12 bytes.
struct block_q3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};

// 8 sub-blocks of 32 with 6-bit scale/min pairs packed in 12 bytes (get_scale_min_k4).
struct block_q4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};

struct block_q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};

// x = d * scales[i] * (q - 32), q 6-bit split into ql (low 4) and qh (high 2).
struct block_q6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  uint16_t d;
};

// Activation format for K-quant dot products: fp32 scale, bsums = sums of 16 consecutive qs.
struct block_q8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};

// 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block: j < 4 sit in the low 6 bits of
// bytes j and j+4; j >= 4 take their low nibbles from byte j+4 and their top 2 bits from the spare
// high bits of bytes j-4 (scale) and j (min).
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Signed 6-bit scale of sub-block j (0..15) of a Q3_K block: low nibble from bytes 0..7 (j < 8: low
// half, else high half of byte j-8), top 2 bits from byte 8 + j%4 at bit 2*(j/4); stored with +32 bias.
inline int q3k_scale(const uint8_t* scales, int j) {
  const int lo = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  const int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

static_assert(sizeof(block_q4_0) == 18);
static_assert(sizeof(block_q4_1) == 20);
static_assert(sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24);
static_assert(sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q8_1) == 36);
static_assert(sizeof(block_q2_K) == 84);
static_assert(sizeof(block_q3_K) == 110);
static_assert(sizeof(block_q4_K) == 144);
static_assert(sizeof(block_q5_K) == 176);
static_assert(sizeof(block_q6_K) == 210);
static_assert(sizeof(block_q8_K) == 292);
// Weight blocks are read in place from mapped files, where a row may start at any even offset.
static_assert(alignof(block_q4_0) <= 2 && alignof(block_q3_K) <= 2 && alignof(block_q6_K) <= 2);

}  // namespace qs
