// On-disk block layouts of ggml's i-quant, ternary and MXFP4 formats (ggml-common.h), field for field.
// fp16 fields are raw IEEE half bits (see fp16.h). Members are 1- and 2-byte only, so there is no padding
// and the sizes equal ggml's; the grids and value tables these blocks index are in iq_grids.h.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/quant_blocks.h"  // QK_K

namespace qs {

inline constexpr int QK4_NL = 32;
inline constexpr int QK_MXFP4 = 32;
inline constexpr int IQ3S_N_SCALE = QK_K / 64;

// 2.0625 bpw. Per 32 elements, 4 uint16 = 8 bytes: bytes 0..3 index iq2xxs_grid (8 magnitudes each),
// bytes 4..7 as a u32 hold four 7-bit sign indices (bits 7l..7l+6, into ksigns_iq2xs) and a 4-bit scale
// in bits 28..31: x = d * (0.5 + s) / 4 * grid * sign.
struct block_iq2_xxs {
  uint16_t d;
  uint16_t qs[QK_K / 8];
};

// 2.3125 bpw. qs[k]: low 9 bits index iq2xs_grid, high 7 bits index ksigns_iq2xs; scales[i] holds two
// 4-bit scales for the halves of the i-th 32 elements: x = d * (0.5 + s) / 4 * grid * sign.
struct block_iq2_xs {
  uint16_t d;
  uint16_t qs[QK_K / 8];
  uint8_t scales[QK_K / 32];
};

// 2.5625 bpw. qs[0..31]: low 8 bits of 10-bit iq2s_grid indices, qs[32..63]: one explicit sign byte per
// group of 8; qh[i]: the top 2 index bits of the i-th 32's four groups; scales as in IQ2_XS.
struct block_iq2_s {
  uint16_t d;
  uint8_t qs[QK_K / 4];
  uint8_t qh[QK_K / 32];
  uint8_t scales[QK_K / 32];
};

// 3.0625 bpw. qs[0..63]: iq3xxs_grid indices (4 magnitudes each), qs[64..95]: per 32 elements a u32 with
// four 7-bit sign indices and a 4-bit scale in bits 28..31: x = d * (0.5 + s) / 2 * grid * sign.
struct block_iq3_xxs {
  uint16_t d;
  uint8_t qs[3 * QK_K / 8];
};

// 3.4375 bpw. 9-bit iq3s_grid indices: low 8 in qs, 9th bit in qh (one byte per 32 elements), explicit
// sign bytes, and a 4-bit scale per 32 elements: x = d * (1 + 2s) * grid * sign.
struct block_iq3_s {
  uint16_t d;
  uint8_t qs[QK_K / 4];
  uint8_t qh[QK_K / 32];
  uint8_t signs[QK_K / 8];
  uint8_t scales[IQ3S_N_SCALE];
};

// 1.5625 bpw. 11-bit iq1s_grid indices: low 8 in qs, 3 high bits per group of 8 in qh[i] bits 3l..3l+2;
// qh[i] bits 12..14 are the 32's 3-bit scale, bit 15 the sign of delta: x = d * (2s + 1) * (grid ± 1/8).
struct block_iq1_s {
  uint16_t d;
  uint8_t qs[QK_K / 8];
  uint16_t qh[QK_K / 32];
};

// 1.75 bpw, no separate d field: the fp16 super-block scale is spread over the top nibbles of the four
// little-endian u16 in scales; their low 12 bits hold four 3-bit sub-block scales each. qh nibbles hold
// 3 high index bits (bits 0..2) and a delta-sign bit (bit 3) per group of 8.
struct block_iq1_m {
  uint8_t qs[QK_K / 8];
  uint8_t qh[QK_K / 16];
  uint8_t scales[QK_K / 32];
};

// Like Q4_0 but the nibble indexes kvalues_iq4nl: x = d * kvalues_iq4nl[q].
struct block_iq4_nl {
  uint16_t d;
  uint8_t qs[QK4_NL / 2];
};

// IQ4_NL on super-blocks: 6-bit scale per 32 elements, low 4 bits in scales_l (two per byte), high 2 bits
// in scales_h (bits 2i..2i+1), stored with bias 32: x = d * (ls - 32) * kvalues_iq4nl[q].
struct block_iq4_xs {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
};

// 1.6875 bpw ternary: qs packs 5 trits per byte and qh 4, each byte a base-3 fixed-point fraction
// (b ≈ v * 256 / 243); x = (t - 1) * d with t in {0, 1, 2}. d comes last, as in ggml.
struct block_tq1_0 {
  uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];
  uint8_t qh[QK_K / 64];
  uint16_t d;
};

// 2.0625 bpw ternary: 2 bits per element, x = (q - 1) * d.
struct block_tq2_0 {
  uint8_t qs[QK_K / 4];
  uint16_t d;
};

// OCP MXFP4: 32 E2M1 values (nibbles indexing kvalues_mxfp4, Q4_0 order) under one E8M0 exponent byte.
// 17 bytes, so blocks are byte-aligned in a row.
struct block_mxfp4 {
  uint8_t e;
  uint8_t qs[QK_MXFP4 / 2];
};

static_assert(sizeof(block_iq2_xxs) == 66);
static_assert(sizeof(block_iq2_xs) == 74);
static_assert(sizeof(block_iq2_s) == 82);
static_assert(sizeof(block_iq3_xxs) == 98);
static_assert(sizeof(block_iq3_s) == 110);
static_assert(sizeof(block_iq1_s) == 50);
static_assert(sizeof(block_iq1_m) == 56);
static_assert(sizeof(block_iq4_nl) == 18);
static_assert(sizeof(block_iq4_xs) == 136);
static_assert(sizeof(block_tq1_0) == 54);
static_assert(sizeof(block_tq2_0) == 66);
static_assert(sizeof(block_mxfp4) == 17);
// Weight blocks are read in place from mapped files: rows start at even offsets at best, and MXFP4 and
// IQ1_M blocks are only byte-aligned, so no block may ask for more than 2-byte alignment.
static_assert(alignof(block_iq2_xxs) <= 2 && alignof(block_iq1_s) <= 2 && alignof(block_iq4_xs) <= 2);
static_assert(alignof(block_tq1_0) <= 2 && alignof(block_mxfp4) == 1 && alignof(block_iq1_m) == 1);

}  // namespace qs
