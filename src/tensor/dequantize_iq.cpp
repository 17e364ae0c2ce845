// Scalar dequantization of ggml's i-quant, ternary and MXFP4 formats, value for value as ggml's
// dequantize_row_* (ggml-quants.c): same operands, same order of float operations, so results are
// bit-identical. Layouts are described in iquant_blocks.h, tables in iq_grids.h.
#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/fp16.h"
#include "tensor/iq_grids.h"
#include "tensor/iquant_blocks.h"
#include "tensor/quants.h"

namespace qs {
namespace {

using iq::grid_byte;
using iq::kmask_iq2xs;
using iq::ksigns_iq2xs;

// Little-endian u32 from 4 bytes at any alignment (every target we build for is little-endian, as ggml assumes).
inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

inline float sign_of(uint8_t signs, int j) { return (signs & kmask_iq2xs[j]) ? -1.f : 1.f; }

// Writes the 8 elements of one group: scale * magnitude * sign, multiplied in ggml's order.
inline void put_group8(float* y, float scale, uint64_t point, uint8_t signs) {
  for (int j = 0; j < 8; ++j) y[j] = scale * static_cast<float>(grid_byte(point, j)) * sign_of(signs, j);
}

// E8M0 exponent byte -> 2^(e-127) / 2, the MXFP4 scale pre-halved because kvalues_mxfp4 are doubled.
// As ggml_e8m0_to_fp32_half: e = 0 and 1 give the subnormals 2^-128 and 2^-127; e = 255 gives 2^127 (no NaN).
inline float e8m0_to_f32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// ---------------------------------------------------------------- 2-bit grids

void deq_iq2_xxs(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq2_xxs*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const auto* q8 = reinterpret_cast<const uint8_t*>(x[i].qs);
    for (int ib = 0; ib < QK_K / 32; ++ib, q8 += 8) {
      const uint32_t aux = load_u32(q8 + 4);  // 4 x 7 sign-index bits, scale in the top nibble
      const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) {
        put_group8(y, db, iq::iq2xxs_grid[q8[l]], ksigns_iq2xs[(aux >> (7 * l)) & 127]);
      }
    }
  }
}

void deq_iq2_xs(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq2_xs*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      // Groups 0-1 of the 32 use the low scale nibble, groups 2-3 the high one.
      const float db[2] = {d * (0.5f + static_cast<float>(x[i].scales[ib] & 0xf)) * 0.25f,
                           d * (0.5f + static_cast<float>(x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x[i].qs[4 * ib + l];
        put_group8(y, db[l / 2], iq::iq2xs_grid[q & 511], ksigns_iq2xs[q >> 9]);
      }
    }
  }
}

void deq_iq2_s(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq2_s*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* signs = x[i].qs + QK_K / 8;  // explicit sign bytes follow the 32 index bytes
    for (int ib = 0; ib < QK_K / 32; ++ib, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + static_cast<float>(x[i].scales[ib] & 0xf)) * 0.25f,
                           d * (0.5f + static_cast<float>(x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const int idx = qs[l] | (((x[i].qh[ib] >> (2 * l)) & 3) << 8);  // qh bits 2l, 2l+1 -> index bits 8, 9
        put_group8(y, db[l / 2], iq::iq2s_grid[idx], signs[l]);
      }
    }
  }
}

// ---------------------------------------------------------------- 3-bit grids

void deq_iq3_xxs(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq3_xxs*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* scales_and_signs = x[i].qs + QK_K / 4;
    for (int ib = 0; ib < QK_K / 32; ++ib, qs += 8) {
      const uint32_t aux = load_u32(scales_and_signs + 4 * ib);
      const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        // A group of 8 is two 4-wide grid points sharing one sign byte.
        const uint8_t signs = ksigns_iq2xs[(aux >> (7 * l)) & 127];
        const uint32_t g1 = iq::iq3xxs_grid[qs[2 * l]];
        const uint32_t g2 = iq::iq3xxs_grid[qs[2 * l + 1]];
        for (int j = 0; j < 4; ++j) {
          y[j] = db * static_cast<float>(grid_byte(g1, j)) * sign_of(signs, j);
          y[j + 4] = db * static_cast<float>(grid_byte(g2, j)) * sign_of(signs, j + 4);
        }
      }
    }
  }
}

void deq_iq3_s(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq3_s*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      // Scale byte ib/2 serves two 32s: low nibble the even one, high nibble the odd one.
      const float db = d * static_cast<float>(1 + 2 * ((x[i].scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
      const uint8_t* qs = x[i].qs + 8 * ib;
      const uint8_t* signs = x[i].signs + 4 * ib;
      const uint8_t qh = x[i].qh[ib];  // bit k: 9th index bit of grid point qs[k]
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint32_t g1 = iq::iq3s_grid[qs[2 * l] | (((qh >> (2 * l)) & 1) << 8)];
        const uint32_t g2 = iq::iq3s_grid[qs[2 * l + 1] | (((qh >> (2 * l + 1)) & 1) << 8)];
        for (int j = 0; j < 4; ++j) {
          y[j] = db * static_cast<float>(grid_byte(g1, j)) * sign_of(signs[l], j);
          y[j + 4] = db * static_cast<float>(grid_byte(g2, j)) * sign_of(signs[l], j + 4);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- 1-bit grids

// Group of 8 from the ternary grid: scale * (g + delta), g read as a signed byte.
inline void put_iq1_group(float* y, float scale, int idx, float delta) {
  const uint64_t point = iq::iq1s_grid[idx];
  for (int j = 0; j < 8; ++j) y[j] = scale * (static_cast<float>(static_cast<int8_t>(grid_byte(point, j))) + delta);
}

void deq_iq1_s(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq1_s*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < QK_K / 32; ++ib, qs += 4) {
      const uint16_t qh = x[i].qh[ib];
      const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
      const float delta = (qh & 0x8000) ? -iq::kIq1sDelta : iq::kIq1sDelta;
      for (int l = 0; l < 4; ++l, y += 8) put_iq1_group(y, dl, qs[l] | (((qh >> (3 * l)) & 7) << 8), delta);
    }
  }
}

// IQ1_M's fp16 super-block scale: the top nibble of each of the four u16 scale words, word 0 lowest.
inline uint16_t iq1m_scale_bits(const uint16_t sc[4]) {
  return static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
}

void deq_iq1_m(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq1_m*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    uint16_t sc[4];
    for (int k = 0; k < 4; ++k) sc[k] = load_u16(x[i].scales + 2 * k);  // block is only byte-aligned
    const float d = fp16_to_f32(iq1m_scale_bits(sc));
    const uint8_t* qs = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int ib = 0; ib < QK_K / 32; ++ib, qs += 4, qh += 2) {
      // Word ib/2 holds two 32s' scales, 6 bits each: 3 for groups 0-1, 3 for groups 2-3.
      const int shift = 6 * (ib % 2);
      const float dl1 = d * static_cast<float>(2 * ((sc[ib / 2] >> shift) & 7) + 1);
      const float dl2 = d * static_cast<float>(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1);
      for (int l = 0; l < 4; ++l, y += 8) {
        const int nib = (qh[l / 2] >> (4 * (l % 2))) & 0xf;  // 3 high index bits, then the delta sign
        const float delta = (nib & 8) ? -iq::kIq1sDelta : iq::kIq1sDelta;
        put_iq1_group(y, l < 2 ? dl1 : dl2, qs[l] | ((nib & 7) << 8), delta);
      }
    }
  }
}

// ---------------------------------------------------------------- non-linear 4-bit

void deq_iq4_nl(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq4_nl*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK4_NL) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < QK4_NL / 2; ++j) {
      y[j] = d * static_cast<float>(iq::kvalues_iq4nl[x[i].qs[j] & 0xf]);
      y[j + QK4_NL / 2] = d * static_cast<float>(iq::kvalues_iq4nl[x[i].qs[j] >> 4]);
    }
  }
}

void deq_iq4_xs(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_iq4_xs*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < QK_K / 32; ++ib, y += 32, qs += 16) {
      const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x[i].scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(iq::kvalues_iq4nl[qs[j] & 0xf]);
        y[j + 16] = dl * static_cast<float>(iq::kvalues_iq4nl[qs[j] >> 4]);
      }
    }
  }
}

// ---------------------------------------------------------------- ternary

// Trit n (0 = most significant) of a TQ1_0 byte: the byte is a base-3 fraction of 256, so multiplying
// by 3^n (mod 256) shifts trit n to the top, and *3 >> 8 reads it out. Returns the value t - 1.
inline int tq1_trit(uint8_t b, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = static_cast<uint8_t>(b * kPow3[n]);
  return ((q * 3) >> 8) - 1;
}

// Emits trit 0 of all `width` bytes, then trit 1, ... up to trit `trits`-1; returns the advanced y.
inline float* put_tq1_chunk(const uint8_t* b, int width, int trits, float d, float* y) {
  for (int n = 0; n < trits; ++n) {
    for (int m = 0; m < width; ++m) *y++ = static_cast<float>(tq1_trit(b[m], n)) * d;
  }
  return y;
}

// ggml's order: the 48 qs bytes as one chunk of 32 and one of 16 (5 trits each), then the 4 qh bytes
// (4 trits each; their 5th trit position is unused).
void deq_tq1_0(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_tq1_0*>(src);
  constexpr int kQs = sizeof(x->qs);
  constexpr int kWide = kQs - kQs % 32;
  constexpr int kQh = sizeof(x->qh);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kWide; j += 32) y = put_tq1_chunk(x[i].qs + j, 32, 5, d, y);
    for (int j = kWide; j < kQs; j += 16) y = put_tq1_chunk(x[i].qs + j, 16, 5, d, y);
    y = put_tq1_chunk(x[i].qh, kQh, 4, d, y);
  }
}

// Per 32 bytes: bit pair l of byte m is element 32l + m of that 128.
void deq_tq2_0(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_tq2_0*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < QK_K / 4; j += 32) {
      for (int l = 0; l < 4; ++l) {
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((x[i].qs[j + m] >> (2 * l)) & 3) - 1) * d;
      }
    }
  }
}

// ---------------------------------------------------------------- MXFP4

void deq_mxfp4(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_mxfp4*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK_MXFP4) {
    const float d = e8m0_to_f32_half(x[i].e);
    for (int j = 0; j < QK_MXFP4 / 2; ++j) {
      y[j] = static_cast<float>(iq::kvalues_mxfp4[x[i].qs[j] & 0xf]) * d;
      y[j + QK_MXFP4 / 2] = static_cast<float>(iq::kvalues_mxfp4[x[i].qs[j] >> 4]) * d;
    }
  }
}

}  // namespace

void dequantize_iq(GgmlType t, const void* src, float* dst, int64_t n_blocks) {
  switch (t) {
    case GgmlType::IQ2_XXS: return deq_iq2_xxs(src, dst, n_blocks);
    case GgmlType::IQ2_XS: return deq_iq2_xs(src, dst, n_blocks);
    case GgmlType::IQ2_S: return deq_iq2_s(src, dst, n_blocks);
    case GgmlType::IQ3_XXS: return deq_iq3_xxs(src, dst, n_blocks);
    case GgmlType::IQ3_S: return deq_iq3_s(src, dst, n_blocks);
    case GgmlType::IQ1_S: return deq_iq1_s(src, dst, n_blocks);
    case GgmlType::IQ1_M: return deq_iq1_m(src, dst, n_blocks);
    case GgmlType::IQ4_NL: return deq_iq4_nl(src, dst, n_blocks);
    case GgmlType::IQ4_XS: return deq_iq4_xs(src, dst, n_blocks);
    case GgmlType::TQ1_0: return deq_tq1_0(src, dst, n_blocks);
    case GgmlType::TQ2_0: return deq_tq2_0(src, dst, n_blocks);
    case GgmlType::MXFP4: return deq_mxfp4(src, dst, n_blocks);
    default:
      throw std::invalid_argument("dequantize_iq: not an i-quant, ternary or MXFP4 type (id " +
                                  std::to_string(static_cast<uint32_t>(t)) + ")");
  }
}

}  // namespace qs
