// Element formats: traits table, fp16/bf16 conversions, hand-built blocks checked against the format
// definitions, quantize/dequantize error bounds and the scalar dot product.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/ggml_type.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// N(0,1) with a few large outliers, like real weight rows.
std::vector<float> random_row(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  for (int64_t i = 0; i < n; i += 509) x[static_cast<size_t>(i)] *= 8.f;
  return x;
}

std::vector<float> roundtrip(GgmlType t, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(t, n));
  quantize_row(t, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

double rel_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

const GgmlType kAllTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                              GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q2_K,
                              GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K};

// ---------------------------------------------------------------- traits

TEST(Quants, TraitsTable) {
  EXPECT_FALSE(type_traits(9999).has_value());
  EXPECT_FALSE(type_traits(4).has_value());  // ids 4 and 5 were removed from ggml (Q4_2, Q4_3)
  ASSERT_TRUE(type_traits(12).has_value());
  EXPECT_EQ(type_traits(12)->name, "Q4_K");
  EXPECT_EQ(traits(GgmlType::Q4_K).block_size, 256);
  EXPECT_EQ(traits(GgmlType::Q4_K).type_size, 144u);
  EXPECT_TRUE(traits(GgmlType::BF16).storable);
  EXPECT_FALSE(traits(GgmlType::Q8_K).storable);
  EXPECT_FALSE(traits(GgmlType::Q8_1).storable);
  EXPECT_EQ(row_bytes(GgmlType::Q4_K, 4096), 16u * 144u);
  EXPECT_EQ(row_bytes(GgmlType::Q8_0, 4096), 128u * 34u);
  EXPECT_EQ(row_bytes(GgmlType::Q6_K, 512), 2u * 210u);
  EXPECT_EQ(row_bytes(GgmlType::F16, 10), 20u);
  EXPECT_EQ(row_bytes(GgmlType::F32, 7), 28u);
  EXPECT_EQ(type_from_name("q4_k"), GgmlType::Q4_K);
  EXPECT_EQ(type_from_name("Bf16"), GgmlType::BF16);
  EXPECT_EQ(type_from_name("Q8_0"), GgmlType::Q8_0);
  EXPECT_FALSE(type_from_name("Q9_9").has_value());
  EXPECT_FALSE(type_from_name("Q4_K_M").has_value());
  for (GgmlType t : kAllTypes) EXPECT_EQ(type_from_name(traits(t).name), t);
}

// ---------------------------------------------------------------- fp16 / bf16

TEST(Quants, Fp16RoundTripAllPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_fp16(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(Quants, Bf16RoundTripAllPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), h) << "bf16 0x" << std::hex << h;
  }
}

TEST(Quants, Fp16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_fp16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f), 0x3C00);           // tie, even stays
  EXPECT_EQ(f32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3C02);       // tie, odd rounds up
  EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);  // just above the tie
  EXPECT_EQ(f32_to_fp16(65504.f), 0x7BFF);
  EXPECT_EQ(f32_to_fp16(65519.f), 0x7BFF);
  EXPECT_EQ(f32_to_fp16(65520.f), 0x7C00);  // tie with 65536 rounds to even = inf
  EXPECT_EQ(f32_to_fp16(0x1p-24f), 0x0001);
  EXPECT_EQ(f32_to_fp16(0x1p-25f), 0x0000);      // subnormal tie to even (0)
  EXPECT_EQ(f32_to_fp16(3 * 0x1p-25f), 0x0002);  // subnormal tie to even (2)
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
}

TEST(Quants, F16RowDequantMatchesScalarForAllPatterns) {
  std::vector<uint16_t> h(65536);
  for (uint32_t i = 0; i < 65536; ++i) h[i] = static_cast<uint16_t>(i);
  std::vector<float> y(65536);
  dequantize_row(GgmlType::F16, h.data(), y.data(), 65536);
  for (uint32_t i = 0; i < 65536; ++i) {
    ASSERT_EQ(bits_of(y[i]), bits_of(fp16_to_f32(h[i]))) << "half 0x" << std::hex << i;
  }
}

// ---------------------------------------------------------------- hand-built blocks

TEST(Quants, Q8_0KnownBlock) {
  block_q8_0 b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(-128 + 8 * j + (j == 31 ? 7 : 0));  // -128..127
  float y[32];
  dequantize_row(GgmlType::Q8_0, &b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * b.qs[j]) << j;
  EXPECT_EQ(y[0], -64.f);
  EXPECT_EQ(y[31], 63.5f);
}

TEST(Quants, Q4_0KnownBlock) {
  block_q4_0 b{};
  b.d = 0x3400;  // 0.25
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(GgmlType::Q4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.25f) << j;               // low nibbles: first half
    EXPECT_EQ(y[j + 16], (15 - j - 8) * 0.25f) << j;     // high nibbles: second half
  }
}

TEST(Quants, Q5_0KnownBlock) {
  int q[32];
  for (int e = 0; e < 32; ++e) q[e] = (e * 13 + 5) % 32;
  block_q5_0 b{};
  b.d = 0x3C00;  // 1.0
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    qh |= static_cast<uint32_t>(q[j] >> 4) << j;
    qh |= static_cast<uint32_t>(q[j + 16] >> 4) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) b.qh[k] = static_cast<uint8_t>(qh >> (8 * k));  // little-endian
  float y[32];
  dequantize_row(GgmlType::Q5_0, &b, y, 32);
  for (int e = 0; e < 32; ++e) EXPECT_EQ(y[e], float(q[e] - 16)) << e;
}

TEST(Quants, Q4_KKnownBlock) {
  // 6-bit scales and mins of the 8 sub-blocks, chosen to exercise the high bits.
  const int sc[8] = {1, 2, 3, 63, 17, 33, 48, 5};
  const int mn[8] = {0, 7, 62, 4, 21, 40, 9, 63};
  block_q4_K b{};
  b.d = 0x3800;     // 0.5
  b.dmin = 0x3400;  // 0.25
  // Packing by the format definition: bytes 0-3 scale 0-3 (+ top bits of scales 4-7 in bits 6-7),
  // bytes 4-7 min 0-3 (+ top bits of mins 4-7), bytes 8-11 low nibbles of scale/min 4-7.
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  int q[256];
  for (int e = 0; e < 256; ++e) q[e] = (e * 7 + e / 32) % 16;
  // Each 64-element chunk c uses qs[32c..32c+31]: low nibble = element 64c+l, high = 64c+32+l.
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
  float y[256];
  dequantize_row(GgmlType::Q4_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int s = e / 32;
    EXPECT_FLOAT_EQ(y[e], 0.5f * sc[s] * q[e] - 0.25f * mn[s]) << e;
  }
}

TEST(Quants, Q6_KKnownBlock) {
  block_q6_K b{};
  b.d = 0x3000;  // 0.125
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(s * 9 - 70);
  int q[256];
  for (int e = 0; e < 256; ++e) q[e] = (e * 11 + 3) % 64;
  // Per 128 elements: quadrant k of 32 takes a nibble of ql (k=0: ql[l] lo, 1: ql[l+32] lo, 2: ql[l] hi,
  // 3: ql[l+32] hi) and bits 2k..2k+1 of qh[l].
  for (int h = 0; h < 2; ++h) {
    for (int k = 0; k < 4; ++k) {
      for (int l = 0; l < 32; ++l) {
        const int v = q[128 * h + 32 * k + l];
        uint8_t& lo = b.ql[64 * h + (k & 1) * 32 + l];
        lo = static_cast<uint8_t>(lo | ((v & 0xF) << (k >= 2 ? 4 : 0)));
        b.qh[32 * h + l] = static_cast<uint8_t>(b.qh[32 * h + l] | ((v >> 4) << (2 * k)));
      }
    }
  }
  float y[256];
  dequantize_row(GgmlType::Q6_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) EXPECT_FLOAT_EQ(y[e], 0.125f * b.scales[e / 16] * (q[e] - 32)) << e;
}

TEST(Quants, Q3_KKnownBlock) {
  int sc[16];  // signed 6-bit scales
  for (int s = 0; s < 16; ++s) sc[s] = (s * 5) % 64 - 32;
  block_q3_K b{};
  b.d = 0x3C00;  // 1.0
  for (int j = 0; j < 16; ++j) {
    const int u = sc[j] + 32;
    if (j < 8) {
      b.scales[j] = static_cast<uint8_t>(b.scales[j] | (u & 0xF));
    } else {
      b.scales[j - 8] = static_cast<uint8_t>(b.scales[j - 8] | ((u & 0xF) << 4));
    }
    b.scales[8 + j % 4] = static_cast<uint8_t>(b.scales[8 + j % 4] | ((u >> 4) << (2 * (j / 4))));
  }
  int q[256];  // signed levels -4..3
  for (int e = 0; e < 256; ++e) q[e] = (e * 3 + e / 16) % 8 - 4;
  // Low 2 bits: per 128, element 32k+l at bits 2k of qs[32h + l]; hmask[l] bit e/32 set when q >= 0.
  for (int e = 0; e < 256; ++e) {
    const int u = q[e] + 4, h = e / 128, k = (e % 128) / 32, l = e % 32;
    b.qs[32 * h + l] = static_cast<uint8_t>(b.qs[32 * h + l] | ((u & 3) << (2 * k)));
    if (u >= 4) b.hmask[l] = static_cast<uint8_t>(b.hmask[l] | (1 << (e / 32)));
  }
  float y[256];
  dequantize_row(GgmlType::Q3_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], float(sc[e / 16] * q[e])) << e;
}

// Formats below are checked against the layouts in ggml-common.h / dequantize_row_* in ggml-quants.c
// (ggml-org/llama.cpp 01243c58). Each test packs levels by the format description, uses distinct
// values per field (scale, min, per-element level) and two blocks with different headers, so a swapped
// nibble, bit or field, or a wrong block stride, changes the result. Chosen values keep every product
// exact in float, so equality is exact.

// Deterministic pseudo-random levels in [0, 2^bits).
std::vector<int> levels(int n, int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> q(static_cast<size_t>(n));
  for (int& v : q) v = static_cast<int>(rng() >> (32 - bits));
  return q;
}

TEST(Quants, Q4_1KnownBlocks) {
  const uint16_t d[2] = {0x3800, 0x3400};  // 0.5, 0.25
  const uint16_t m[2] = {0xC140, 0x3E00};  // -2.625, 1.5
  const float df[2] = {0.5f, 0.25f}, mf[2] = {-2.625f, 1.5f};
  block_q4_1 b[2]{};
  int q[64];
  // Elements j and j+16 (the two nibbles of one byte) always differ, as do the two blocks.
  for (int e = 0; e < 64; ++e) q[e] = (e * 7 + e / 16 * 3 + 5) % 16;
  for (int i = 0; i < 2; ++i) {
    b[i].d = d[i];
    b[i].m = m[i];
    // qs[j]: low nibble = element j, high nibble = element j+16.
    for (int j = 0; j < 16; ++j) b[i].qs[j] = static_cast<uint8_t>(q[32 * i + j] | (q[32 * i + j + 16] << 4));
  }
  ASSERT_EQ(fp16_to_f32(m[0]), mf[0]);
  ASSERT_EQ(fp16_to_f32(m[1]), mf[1]);
  float y[64];
  dequantize_row(GgmlType::Q4_1, b, y, 64);
  for (int e = 0; e < 64; ++e) EXPECT_EQ(y[e], float(q[e] * double(df[e / 32]) + mf[e / 32])) << e;
}

TEST(Quants, Q5_1KnownBlocks) {
  const uint16_t d[2] = {0x3400, 0x3C00};  // 0.25, 1.0
  const uint16_t m[2] = {0xC000, 0x3A00};  // -2.0, 0.75
  const float df[2] = {0.25f, 1.0f}, mf[2] = {-2.0f, 0.75f};
  // Per block a permutation of 0..31 (5-bit reversal of e, xor a per-block constant), so elements j and
  // j+16 differ in the low nibble as well as in bit 4. (An affine e*a+b mod 32 would not: its j and j+16
  // share the low nibble, hiding a nibble swap.)
  int q[64];
  for (int e = 0; e < 64; ++e) {
    const int r = e % 32;
    const int rev = ((r & 1) << 4) | ((r & 2) << 2) | (r & 4) | ((r & 8) >> 2) | ((r & 16) >> 4);
    q[e] = rev ^ (e < 32 ? 0x0B : 0x16);
  }
  block_q5_1 b[2]{};
  for (int i = 0; i < 2; ++i) {
    b[i].d = d[i];
    b[i].m = m[i];
    uint32_t qh = 0;  // bit e (of the little-endian u32) = bit 4 of element e
    for (int j = 0; j < 16; ++j) {
      b[i].qs[j] = static_cast<uint8_t>((q[32 * i + j] & 0xF) | ((q[32 * i + j + 16] & 0xF) << 4));
    }
    for (int e = 0; e < 32; ++e) qh |= static_cast<uint32_t>(q[32 * i + e] >> 4) << e;
    for (int k = 0; k < 4; ++k) b[i].qh[k] = static_cast<uint8_t>(qh >> (8 * k));
  }
  float y[64];
  dequantize_row(GgmlType::Q5_1, b, y, 64);
  for (int e = 0; e < 64; ++e) EXPECT_EQ(y[e], float(q[e] * double(df[e / 32]) + mf[e / 32])) << e;
}

TEST(Quants, Q2_KKnownBlocks) {
  const uint16_t d[2] = {0x3800, 0x4000};     // 0.5, 2.0
  const uint16_t dmin[2] = {0x3000, 0x3400};  // 0.125, 0.25
  const double df[2] = {0.5, 2.0}, mf[2] = {0.125, 0.25};
  block_q2_K b[2]{};
  const std::vector<int> q = levels(512, 2, 101);
  int sc[2][16], mn[2][16];
  for (int i = 0; i < 2; ++i) {
    b[i].d = d[i];
    b[i].dmin = dmin[i];
    for (int s = 0; s < 16; ++s) {
      sc[i][s] = (s * 7 + 1 + 5 * i) % 16;  // permutations of 0..15, different per block
      mn[i][s] = (s * 5 + 3 + 3 * i) % 16;
      b[i].scales[s] = static_cast<uint8_t>(sc[i][s] | (mn[i][s] << 4));  // low nibble scale, high nibble min
    }
    // Element e = 128h + 32k + l is bits 2k..2k+1 of qs[32h + l]; sub-block (scale/min) e / 16.
    for (int e = 0; e < 256; ++e) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      b[i].qs[32 * h + l] = static_cast<uint8_t>(b[i].qs[32 * h + l] | (q[256 * i + e] << (2 * k)));
    }
  }
  float y[512];
  dequantize_row(GgmlType::Q2_K, b, y, 512);
  for (int i = 0; i < 2; ++i) {
    for (int e = 0; e < 256; ++e) {
      const int s = e / 16;
      EXPECT_EQ(y[256 * i + e], float(df[i] * sc[i][s] * q[256 * i + e] - mf[i] * mn[i][s])) << i << " " << e;
    }
  }
}

TEST(Quants, Q5_KKnownBlocks) {
  const uint16_t d[2] = {0x3800, 0x3400};     // 0.5, 0.25
  const uint16_t dmin[2] = {0x3400, 0x3C00};  // 0.25, 1.0
  const double df[2] = {0.5, 0.25}, mf[2] = {0.25, 1.0};
  // 6-bit scales and mins of the 8 sub-blocks, distinct and using the top bits.
  const int sc[2][8] = {{1, 2, 3, 63, 17, 33, 48, 5}, {60, 9, 31, 32, 47, 16, 0, 50}};
  const int mn[2][8] = {{0, 7, 62, 4, 21, 40, 9, 63}, {13, 55, 26, 39, 1, 34, 61, 18}};
  const std::vector<int> q = levels(512, 5, 202);
  block_q5_K b[2]{};
  for (int i = 0; i < 2; ++i) {
    b[i].d = d[i];
    b[i].dmin = dmin[i];
    // Bytes 0-3: scale 0-3 (bits 6-7: top bits of scale 4-7); bytes 4-7: min 0-3 (bits 6-7: top bits of
    // min 4-7); bytes 8-11: low nibble scale 4-7, high nibble min 4-7.
    for (int j = 0; j < 4; ++j) {
      b[i].scales[j] = static_cast<uint8_t>(sc[i][j] | ((sc[i][j + 4] >> 4) << 6));
      b[i].scales[j + 4] = static_cast<uint8_t>(mn[i][j] | ((mn[i][j + 4] >> 4) << 6));
      b[i].scales[j + 8] = static_cast<uint8_t>((sc[i][j + 4] & 0xF) | ((mn[i][j + 4] & 0xF) << 4));
    }
    // Chunk c of 64: element 64c+l is the low nibble of qs[32c+l] with bit 4 in qh[l] bit 2c; element
    // 64c+32+l the high nibble with bit 4 in qh[l] bit 2c+1.
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = q[256 * i + 64 * c + l], hi = q[256 * i + 64 * c + 32 + l];
        b[i].qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        b[i].qh[l] = static_cast<uint8_t>(b[i].qh[l] | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
  }
  float y[512];
  dequantize_row(GgmlType::Q5_K, b, y, 512);
  for (int i = 0; i < 2; ++i) {
    for (int e = 0; e < 256; ++e) {
      const int s = e / 32;
      EXPECT_EQ(y[256 * i + e], float(df[i] * sc[i][s] * q[256 * i + e] - mf[i] * mn[i][s])) << i << " " << e;
    }
  }
}

TEST(Quants, Q6_KSecondBlockUsesItsOwnFields) {
  // Two blocks: the second must read its own d, scales and quants (block stride 210 bytes).
  block_q6_K b[2]{};
  const std::vector<int> q = levels(512, 6, 303);
  for (int i = 0; i < 2; ++i) {
    b[i].d = i == 0 ? 0x3000 : 0x3800;  // 0.125, 0.5
    for (int s = 0; s < 16; ++s) b[i].scales[s] = static_cast<int8_t>((s * 11 + 40 * i) % 128 - 64);
    for (int e = 0; e < 256; ++e) {
      const int v = q[256 * i + e], h = e / 128, k = (e % 128) / 32, l = e % 32;
      b[i].ql[64 * h + (k & 1) * 32 + l] |= static_cast<uint8_t>((v & 0xF) << (k >= 2 ? 4 : 0));
      b[i].qh[32 * h + l] |= static_cast<uint8_t>((v >> 4) << (2 * k));
    }
  }
  float y[512];
  dequantize_row(GgmlType::Q6_K, b, y, 512);
  for (int i = 0; i < 2; ++i) {
    const double df = i == 0 ? 0.125 : 0.5;
    for (int e = 0; e < 256; ++e) {
      EXPECT_EQ(y[256 * i + e], float(df * b[i].scales[e / 16] * (q[256 * i + e] - 32))) << i << " " << e;
    }
  }
}

TEST(Quants, Bf16RowDequantIsTopHalfOfFloat) {
  std::vector<uint16_t> h(65536);
  for (uint32_t i = 0; i < 65536; ++i) h[i] = static_cast<uint16_t>(i);
  std::vector<float> y(65536);
  dequantize_row(GgmlType::BF16, h.data(), y.data(), 65536);
  for (uint32_t i = 0; i < 65536; ++i) ASSERT_EQ(bits_of(y[i]), i << 16) << "bf16 0x" << std::hex << i;
}

// ---------------------------------------------------------------- quantize / dequantize

// Relative RMS error bound per type for N(0,1) data with 8x outliers. Measured with this seed:
// Q8_0 0.0065, Q8_K 0.013, Q6_K 0.020, Q5_0 0.053, Q5_1 0.041, Q5_K 0.039, Q4_0 0.105, Q4_1 0.084,
// Q4_K 0.078, Q3_K 0.165, Q2_K 0.313. Bounds leave ~1.3-1.5x headroom: they catch broken rounding or
// layout, not small quality regressions (bit-exactness with ggml is what guards those).
double error_bound(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0.0;
    case GgmlType::F16: return 1e-3;   // 11-bit mantissa: <= 2^-11 relative per element
    case GgmlType::BF16: return 4e-3;  // 8-bit mantissa: <= 2^-8
    case GgmlType::Q8_0:
    case GgmlType::Q8_1: return 0.01;
    case GgmlType::Q8_K: return 0.02;
    case GgmlType::Q6_K: return 0.03;
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q5_K: return 0.07;
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q4_K: return 0.13;
    case GgmlType::Q3_K: return 0.22;
    case GgmlType::Q2_K: return 0.4;
    default: return 0;  // no quantizer (i-quants, ternary, MXFP4): not in kAllTypes
  }
}

TEST(Quants, RoundTripErrorWithinBounds) {
  const std::vector<float> x = random_row(4096, 42);
  for (GgmlType t : kAllTypes) {
    const std::vector<float> y = roundtrip(t, x);
    const double e = rel_rms_error(x, y);
    EXPECT_LE(e, error_bound(t)) << traits(t).name;
    if (t == GgmlType::F32) {
      EXPECT_EQ(x, y);
    }
    if (t == GgmlType::F16) {
      for (size_t i = 0; i < x.size(); ++i) ASSERT_LE(std::fabs(x[i] - y[i]), std::fabs(x[i]) * 0x1p-11f);
    }
    if (t == GgmlType::BF16) {
      for (size_t i = 0; i < x.size(); ++i) ASSERT_LE(std::fabs(x[i] - y[i]), std::fabs(x[i]) * 0x1p-8f);
    }
  }
}

TEST(Quants, ZeroRowStaysZero) {
  const std::vector<float> x(512, 0.f);
  for (GgmlType t : kAllTypes) {
    const std::vector<float> y = roundtrip(t, x);
    for (float v : y) ASSERT_EQ(v, 0.f) << traits(t).name;
  }
}

TEST(Quants, RequantizeIsStable) {
  const std::vector<float> x = random_row(4096, 7);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0}) {
    const std::vector<float> y1 = roundtrip(t, x);
    const std::vector<float> y2 = roundtrip(t, y1);
    EXPECT_EQ(y1, y2) << traits(t).name;
  }
}

TEST(Quants, Q8_KBsumsMatchQuants) {
  const std::vector<float> x = random_row(512, 3);
  block_q8_K b[2];
  quantize_row(GgmlType::Q8_K, x.data(), b, 512);
  for (const block_q8_K& blk : b) {
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += blk.qs[16 * j + i];
      EXPECT_EQ(blk.bsums[j], s);
    }
  }
}

// ---------------------------------------------------------------- dot product

TEST(Quants, DotRowMatchesDequantizeThenDot) {
  const int64_t n = 4096;
  const std::vector<float> w = random_row(n, 11);
  const std::vector<float> x = random_row(n, 12);
  for (GgmlType t : kAllTypes) {
    std::vector<uint8_t> q(row_bytes(t, n));
    quantize_row(t, w.data(), q.data(), n);
    std::vector<float> d(static_cast<size_t>(n));
    dequantize_row(t, q.data(), d.data(), n);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      ref += double(d[i]) * x[i];
      mag += std::fabs(double(d[i]) * x[i]);
    }
    const float got = dot_row_f32(t, q.data(), x.data(), n);
    // Relative to the sum of |terms|, the scale of fp32 accumulation error.
    EXPECT_NEAR(got, ref, 1e-4 * mag) << traits(t).name;
  }
}

TEST(Quants, DotRowHandlesShortFloatRows) {
  const std::vector<float> w = random_row(1000, 5);
  const std::vector<float> x = random_row(1000, 6);
  std::vector<uint16_t> h(1000);
  quantize_row(GgmlType::F16, w.data(), h.data(), 1000);
  double ref = 0, mag = 0;
  for (int i = 0; i < 1000; ++i) {
    ref += double(fp16_to_f32(h[i])) * x[i];
    mag += std::fabs(double(fp16_to_f32(h[i])) * x[i]);
  }
  EXPECT_NEAR(dot_row_f32(GgmlType::F16, h.data(), x.data(), 1000), ref, 1e-4 * mag);
  EXPECT_NEAR(dot_row_f32(GgmlType::F32, w.data(), x.data(), 3), double(w[0]) * x[0] + double(w[1]) * x[1] + double(w[2]) * x[2], 1e-5);
}

}  // namespace
}  // namespace qs
