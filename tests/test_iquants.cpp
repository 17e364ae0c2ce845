// The i-quant, ternary and MXFP4 formats: type traits, the codebooks checked against ggml's own tables,
// and one hand-built block per format whose expected values are worked out from ggml's definitions
// (ggml-common.h block layouts, ggml-quants.c dequantize_row_*), never produced by the code under test.
// Blocks are built as raw little-endian bytes at the offsets ggml's layouts give.
#include <gtest/gtest.h>

#include <bit>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "tensor/ggml_type.h"
#include "tensor/iq_grids.h"
#include "tensor/iquant_blocks.h"
#include "tensor/quants.h"

namespace qs {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, size_t off, uint16_t v) {
  b.at(off) = static_cast<uint8_t>(v);
  b.at(off + 1) = static_cast<uint8_t>(v >> 8);
}

void put32(Bytes& b, size_t off, uint32_t v) {
  put16(b, off, static_cast<uint16_t>(v));
  put16(b, off + 2, static_cast<uint16_t>(v >> 16));
}

// Dequantizes a buffer holding whole blocks of t.
std::vector<float> deq(GgmlType t, const Bytes& b) {
  const TypeTraits& tt = traits(t);
  const int64_t nb = static_cast<int64_t>(b.size() / tt.type_size);
  EXPECT_EQ(b.size(), static_cast<size_t>(nb) * tt.type_size);
  std::vector<float> y(static_cast<size_t>(nb * tt.block_size), -12345.f);
  dequantize_iq(t, b.data(), y.data(), nb);
  return y;
}

Bytes zero_blocks(GgmlType t, size_t n = 1) { return Bytes(traits(t).type_size * n, 0); }

// FNV-1a 64 over the little-endian bytes of each element.
template <typename T, size_t N>
uint64_t fnv1a64(const T (&table)[N]) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const T& v : table) {
    const auto u = static_cast<uint64_t>(static_cast<std::make_unsigned_t<T>>(v));
    for (size_t k = 0; k < sizeof(T); ++k) {
      h ^= (u >> (8 * k)) & 0xff;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

// ---------------------------------------------------------------- traits and layouts

struct Expected {
  GgmlType type;
  uint32_t id;
  const char* name;
  int64_t block_size;
  size_t type_size;
};

// ggml.h ids, ggml.c type_traits (blck_size, sizeof(block_*)) as printed by ggml's own headers.
const Expected kIqTypes[] = {
    {GgmlType::IQ2_XXS, 16, "IQ2_XXS", 256, 66}, {GgmlType::IQ2_XS, 17, "IQ2_XS", 256, 74},
    {GgmlType::IQ3_XXS, 18, "IQ3_XXS", 256, 98}, {GgmlType::IQ1_S, 19, "IQ1_S", 256, 50},
    {GgmlType::IQ4_NL, 20, "IQ4_NL", 32, 18},    {GgmlType::IQ3_S, 21, "IQ3_S", 256, 110},
    {GgmlType::IQ2_S, 22, "IQ2_S", 256, 82},     {GgmlType::IQ4_XS, 23, "IQ4_XS", 256, 136},
    {GgmlType::IQ1_M, 29, "IQ1_M", 256, 56},     {GgmlType::TQ1_0, 34, "TQ1_0", 256, 54},
    {GgmlType::TQ2_0, 35, "TQ2_0", 256, 66},     {GgmlType::MXFP4, 39, "MXFP4", 32, 17},
};

TEST(IQuants, TraitsCarryGgmlIdsNamesAndBlockSizes) {
  for (const Expected& e : kIqTypes) {
    SCOPED_TRACE(e.name);
    EXPECT_EQ(static_cast<uint32_t>(e.type), e.id);
    const auto tt = type_traits(e.id);
    ASSERT_TRUE(tt.has_value());
    EXPECT_EQ(tt->name, e.name);
    EXPECT_EQ(tt->block_size, e.block_size);
    EXPECT_EQ(tt->type_size, e.type_size);
    EXPECT_TRUE(tt->storable);
    EXPECT_EQ(type_from_name(e.name), e.type);
    std::string lower = e.name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(type_from_name(lower), e.type);  // ggml spells them "iq2_xxs", "mxfp4"
  }
  // Ids ggml uses for other things (I8..F64, removed Q4_0_x_x, I2_S, ...) stay unknown.
  for (uint32_t id : {24u, 25u, 26u, 27u, 28u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 41u}) {
    EXPECT_FALSE(type_traits(id).has_value()) << id;
  }
  EXPECT_EQ(row_bytes(GgmlType::IQ2_XXS, 7168), 28u * 66u);
  EXPECT_EQ(row_bytes(GgmlType::MXFP4, 2880), 90u * 17u);
}

TEST(IQuants, BlockStructsHaveGgmlSizesAndFieldOffsets) {
  EXPECT_EQ(sizeof(block_iq2_xxs), traits(GgmlType::IQ2_XXS).type_size);
  EXPECT_EQ(sizeof(block_iq2_xs), traits(GgmlType::IQ2_XS).type_size);
  EXPECT_EQ(sizeof(block_iq2_s), traits(GgmlType::IQ2_S).type_size);
  EXPECT_EQ(sizeof(block_iq3_xxs), traits(GgmlType::IQ3_XXS).type_size);
  EXPECT_EQ(sizeof(block_iq3_s), traits(GgmlType::IQ3_S).type_size);
  EXPECT_EQ(sizeof(block_iq1_s), traits(GgmlType::IQ1_S).type_size);
  EXPECT_EQ(sizeof(block_iq1_m), traits(GgmlType::IQ1_M).type_size);
  EXPECT_EQ(sizeof(block_iq4_nl), traits(GgmlType::IQ4_NL).type_size);
  EXPECT_EQ(sizeof(block_iq4_xs), traits(GgmlType::IQ4_XS).type_size);
  EXPECT_EQ(sizeof(block_tq1_0), traits(GgmlType::TQ1_0).type_size);
  EXPECT_EQ(sizeof(block_tq2_0), traits(GgmlType::TQ2_0).type_size);
  EXPECT_EQ(sizeof(block_mxfp4), traits(GgmlType::MXFP4).type_size);
  // The byte offsets the hand-built blocks below rely on.
  EXPECT_EQ(offsetof(block_iq2_xs, scales), 66u);
  EXPECT_EQ(offsetof(block_iq2_s, qh), 66u);
  EXPECT_EQ(offsetof(block_iq2_s, scales), 74u);
  EXPECT_EQ(offsetof(block_iq3_s, qh), 66u);
  EXPECT_EQ(offsetof(block_iq3_s, signs), 74u);
  EXPECT_EQ(offsetof(block_iq3_s, scales), 106u);
  EXPECT_EQ(offsetof(block_iq1_s, qh), 34u);
  EXPECT_EQ(offsetof(block_iq1_m, qh), 32u);
  EXPECT_EQ(offsetof(block_iq1_m, scales), 48u);
  EXPECT_EQ(offsetof(block_iq4_xs, scales_h), 2u);
  EXPECT_EQ(offsetof(block_iq4_xs, scales_l), 4u);
  EXPECT_EQ(offsetof(block_iq4_xs, qs), 8u);
  EXPECT_EQ(offsetof(block_tq1_0, qh), 48u);
  EXPECT_EQ(offsetof(block_tq1_0, d), 52u);
  EXPECT_EQ(offsetof(block_tq2_0, d), 64u);
  EXPECT_EQ(offsetof(block_mxfp4, qs), 1u);
}

// ---------------------------------------------------------------- tables

// Expected checksums: FNV-1a 64 over each table's elements as little-endian bytes, computed once by a
// throwaway script that parsed the GGML_TABLE_BEGIN ... GGML_TABLE_END blocks of ggml/src/ggml-common.h
// at ggml-org/ggml commit d99724f2b141fed9e1a9f402213506c081433465 (the tables are byte-identical in
// ik_llama.cpp 8337e4cd3861406fc04e0854b1409cd1b027fbc9). kvalues_mxfp4 is ggml's kvalues_fp4.
TEST(IQuants, GridTablesHaveGgmlSizesAndChecksums) {
  EXPECT_EQ(iq::kKmaskIq2xsSize, 8u);
  EXPECT_EQ(iq::kKsignsIq2xsSize, 128u);
  EXPECT_EQ(iq::kIq2xxsGridSize, 256u);
  EXPECT_EQ(iq::kIq2xsGridSize, 512u);
  EXPECT_EQ(iq::kIq2sGridSize, 1024u);
  EXPECT_EQ(iq::kIq3xxsGridSize, 256u);
  EXPECT_EQ(iq::kIq3sGridSize, 512u);
  EXPECT_EQ(iq::kIq1sGridSize, 2048u);
  EXPECT_EQ(iq::kKvaluesIq4nlSize, 16u);
  EXPECT_EQ(iq::kKvaluesMxfp4Size, 16u);

  EXPECT_EQ(fnv1a64(iq::kmask_iq2xs), 0x0af7003a53c25e16ull);
  EXPECT_EQ(fnv1a64(iq::ksigns_iq2xs), 0xf19ba8f8c3292ba5ull);
  EXPECT_EQ(fnv1a64(iq::iq2xxs_grid), 0xbb4ee025b5ac6e8eull);
  EXPECT_EQ(fnv1a64(iq::iq2xs_grid), 0xc9b1ee61e79909bdull);
  EXPECT_EQ(fnv1a64(iq::iq2s_grid), 0x123edd38a3b62b90ull);
  EXPECT_EQ(fnv1a64(iq::iq3xxs_grid), 0xdfa5dc83d6a155d5ull);
  EXPECT_EQ(fnv1a64(iq::iq3s_grid), 0xfa37020c25b44829ull);
  EXPECT_EQ(fnv1a64(iq::iq1s_grid), 0x6703ed863501ae2eull);
  EXPECT_EQ(fnv1a64(iq::kvalues_iq4nl), 0x055d06d2d8fa0f75ull);
  EXPECT_EQ(fnv1a64(iq::kvalues_mxfp4), 0x3f0e3c08af1e5eb5ull);

  // Spot values as printed in ggml-common.h.
  EXPECT_EQ(iq::iq2xxs_grid[5], 0x0808080808190819ull);
  EXPECT_EQ(iq::iq1s_grid[2047], 0x0101010101010101ull);
  EXPECT_EQ(iq::iq3s_grid[511], 0x0f0f0101u);
  EXPECT_EQ(iq::kvalues_iq4nl[0], -127);
  EXPECT_EQ(iq::kvalues_mxfp4[15], -12);
}

TEST(IQuants, SignTableIsSevenStoredBitsPlusEvenParity) {
  for (int i = 0; i < 128; ++i) {
    const uint8_t s = iq::ksigns_iq2xs[i];
    EXPECT_EQ(s & 127, i);
    EXPECT_EQ(std::popcount(s) % 2, 0) << i;
  }
  for (int j = 0; j < 8; ++j) EXPECT_EQ(iq::kmask_iq2xs[j], 1 << j);
}

// ---------------------------------------------------------------- hand-built blocks, 2-bit grids

// IQ2_XXS: d@0, qs@2; the 32 elements of sub-block ib use block bytes 2+8ib .. 9+8ib.
TEST(IQuants, Iq2XxsBlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ2_XXS);
  put16(b, 0, 0x3800);  // d = 0.5
  b[10] = 5;            // ib=1, l=0: grid index 5
  // ib=1 aux word at bytes 14..17: scale 3 in bits 28..31, sign index 3 for l=0, sign index 1 for l=1.
  put32(b, 14, (3u << 28) | 3u | (1u << 7));
  const auto y = deq(GgmlType::IQ2_XXS, b);
  // ib=0 is all zero: db = 0.5 * (0.5 + 0) * 0.25 = 0.0625; grid[0] = 8s -> 0.5.
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[31], 0.5f);
  // ib=1: db = 0.5 * (0.5 + 3) * 0.25 = 0.4375. grid[5] = 0x0808080808190819 -> bytes 25,8,25,8,8,8,8,8;
  // ksigns[3] = 3 -> elements 0 and 1 negated.
  EXPECT_EQ(y[32], -10.9375f);  // -25 * 0.4375
  EXPECT_EQ(y[33], -3.5f);      // -8 * 0.4375
  EXPECT_EQ(y[34], 10.9375f);
  EXPECT_EQ(y[35], 3.5f);
  EXPECT_EQ(y[39], 3.5f);
  // l=1: grid[0] = 8s; ksigns[1] = 129 -> elements 0 and 7 negated (parity bit).
  EXPECT_EQ(y[40], -3.5f);
  EXPECT_EQ(y[41], 3.5f);
  EXPECT_EQ(y[47], -3.5f);
  EXPECT_EQ(y[48], 3.5f);  // l=2: no signs
}

// IQ2_XS: d@0, qs@2 (32 x u16), scales@66.
TEST(IQuants, Iq2XsBlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ2_XS);
  put16(b, 0, 0x3C00);                    // d = 1
  put16(b, 2 + 2 * 8, 300 | (5u << 9));   // ib=2, l=0: grid 300, sign index 5
  put16(b, 2 + 2 * 11, 511 | (127u << 9));  // ib=2, l=3: grid 511, sign index 127
  b[66 + 2] = 0x51;                       // ib=2 scales: low nibble 1 (l=0,1), high nibble 5 (l=2,3)
  const auto y = deq(GgmlType::IQ2_XS, b);
  // db0 = 1 * (0.5 + 1) * 0.25 = 0.375, db1 = 1 * (0.5 + 5) * 0.25 = 1.375.
  // grid[300] = 0x1908190808191908 -> 8,25,25,8,8,25,8,25; ksigns[5] = 5 -> elements 0 and 2 negated.
  EXPECT_EQ(y[64], -3.f);      // -8 * 0.375
  EXPECT_EQ(y[65], 9.375f);    // 25 * 0.375
  EXPECT_EQ(y[66], -9.375f);
  EXPECT_EQ(y[67], 3.f);
  EXPECT_EQ(y[71], 9.375f);
  EXPECT_EQ(y[72], 3.f);       // l=1: grid[0] = 8s, db0
  EXPECT_EQ(y[80], 11.f);      // l=2: grid[0], db1: 8 * 1.375
  // l=3: grid[511] = 43s, ksigns[127] = 255 -> all negated: -43 * 1.375.
  EXPECT_EQ(y[88], -59.125f);
  EXPECT_EQ(y[95], -59.125f);
}

// IQ2_S: d@0, qs@2 (32 index bytes, then 32 sign bytes at 34), qh@66, scales@74.
TEST(IQuants, Iq2SBlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ2_S);
  put16(b, 0, 0x4000);  // d = 2
  b[2 + 29] = 0x34;     // ib=7, l=1: index low byte
  b[66 + 7] = 0x0C;     // qh[7] bits 2,3 = 3: index bits 8,9 of l=1 -> index 0x334 = 820
  b[34 + 29] = 0x81;    // ib=7, l=1 signs: elements 0 and 7
  b[74 + 7] = 0x20;     // scales[7]: low 0 (l=0,1), high 2 (l=2,3)
  const auto y = deq(GgmlType::IQ2_S, b);
  // db0 = 2 * (0.5 + 0) * 0.25 = 0.25, db1 = 2 * (0.5 + 2) * 0.25 = 1.25.
  EXPECT_EQ(y[224], 2.f);  // l=0: grid[0] = 8s * 0.25
  // l=1: grid[820] = 0x2b0808080808082b -> 43,8,8,8,8,8,8,43; signs 0x81.
  EXPECT_EQ(y[232], -10.75f);  // -43 * 0.25
  EXPECT_EQ(y[233], 2.f);
  EXPECT_EQ(y[238], 2.f);
  EXPECT_EQ(y[239], -10.75f);
  EXPECT_EQ(y[240], 10.f);  // l=2: grid[0], db1: 8 * 1.25
}

// ---------------------------------------------------------------- 3-bit grids

// IQ3_XXS: d@0, qs@2 (64 index bytes, then per sub-block a u32 of signs and scale at 66+4ib).
TEST(IQuants, Iq3XxsBlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ3_XXS);
  put16(b, 0, 0x3800);               // d = 0.5
  b[2] = 17;                         // ib=0, l=0: first 4-wide point
  b[3] = 200;                        // second 4-wide point
  put32(b, 66, (7u << 28) | 64u);    // scale 7; l=0 sign index 64
  const auto y = deq(GgmlType::IQ3_XXS, b);
  // db = 0.5 * (0.5 + 7) * 0.5 = 1.875. grid[17] = 0x040c142c -> 44,20,12,4; grid[200] = 0x2c043e04 ->
  // 4,62,4,44; ksigns[64] = 192 -> elements 6 and 7 negated.
  EXPECT_EQ(y[0], 82.5f);    // 44 * 1.875
  EXPECT_EQ(y[1], 37.5f);    // 20 * 1.875
  EXPECT_EQ(y[2], 22.5f);
  EXPECT_EQ(y[3], 7.5f);
  EXPECT_EQ(y[4], 7.5f);     // 4 * 1.875
  EXPECT_EQ(y[5], 116.25f);  // 62 * 1.875
  EXPECT_EQ(y[6], -7.5f);
  EXPECT_EQ(y[7], -82.5f);
  EXPECT_EQ(y[8], 7.5f);     // l=1: grid[0] = 0x04040404, no signs
}

// IQ3_S: d@0, qs@2 (64), qh@66 (8), signs@74 (32), scales@106 (4).
TEST(IQuants, Iq3SBlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ3_S);
  put16(b, 0, 0x3400);  // d = 0.25
  b[2 + 24 + 4] = 0x10;  // ib=3, l=2: first point, low 8 index bits
  b[2 + 24 + 5] = 0xFF;  // ib=3, l=2: second point
  b[66 + 3] = 0x10;      // qh[3] bit 4 (= 2l): 9th bit of the first point -> 0x110 = 272; bit 5 clear -> 255
  b[74 + 12 + 2] = 0x0F;  // ib=3, l=2 signs: elements 0..3
  b[106 + 1] = 0x60;      // scales[1]: ib=2 low nibble 0, ib=3 high nibble 6
  const auto y = deq(GgmlType::IQ3_S, b);
  EXPECT_EQ(y[64], 0.25f);  // ib=2: db = 0.25 * (1 + 2*0); grid[0] = 0x01010101
  // ib=3: db = 0.25 * (1 + 2*6) = 3.25. grid[272] = 0x050d0503 -> 3,5,13,5 (negated);
  // grid[255] = 0x05090501 -> 1,5,9,5.
  EXPECT_EQ(y[112], -9.75f);   // -3 * 3.25
  EXPECT_EQ(y[113], -16.25f);  // -5 * 3.25
  EXPECT_EQ(y[114], -42.25f);  // -13 * 3.25
  EXPECT_EQ(y[115], -16.25f);
  EXPECT_EQ(y[116], 3.25f);
  EXPECT_EQ(y[117], 16.25f);
  EXPECT_EQ(y[118], 29.25f);   // 9 * 3.25
  EXPECT_EQ(y[119], 16.25f);
}

// ---------------------------------------------------------------- 1-bit grids

// IQ1_S: d@0, qs@2 (32), qh@34 (8 x u16: 3 index bits per group, scale in 12..14, delta sign in 15).
TEST(IQuants, Iq1SBlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ1_S);
  put16(b, 0, 0x3C00);  // d = 1
  b[2 + 20] = 0x2A;     // ib=5, l=0
  b[2 + 23] = 0xFF;     // ib=5, l=3
  // qh[5]: delta negative, scale 3, l=0 high bits 5 (-> 0x52A = 1322), l=3 high bits 7 (-> 0x7FF = 2047).
  put16(b, 34 + 2 * 5, 0x8000 | (3u << 12) | 5u | (7u << 9));
  const auto y = deq(GgmlType::IQ1_S, b);
  // dl = 1 * (2*3 + 1) = 7, delta = -0.125. grid[1322] = 0x0001000000010001 -> 1,0,1,0,0,0,1,0.
  EXPECT_EQ(y[160], 6.125f);   // 7 * (1 - 0.125)
  EXPECT_EQ(y[161], -0.875f);  // 7 * (0 - 0.125)
  EXPECT_EQ(y[162], 6.125f);
  EXPECT_EQ(y[166], 6.125f);
  EXPECT_EQ(y[167], -0.875f);
  EXPECT_EQ(y[168], -7.875f);  // l=1: grid[0] = all 0xff = -1: 7 * (-1 - 0.125)
  EXPECT_EQ(y[184], 6.125f);   // l=3: grid[2047] = all 1
  EXPECT_EQ(y[191], 6.125f);
  // ib=0 is zero: dl = 1, delta = +0.125, grid[0] = -1s -> -0.875.
  EXPECT_EQ(y[0], -0.875f);
}

// IQ1_M: qs@0 (32), qh@32 (16 nibbles: 3 index bits + delta sign), scales@48 (4 x u16).
TEST(IQuants, Iq1MBlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ1_M);
  // Super-scale fp16 0x3555 = 1365/4096 = 0.333251953125, its nibbles in the top of words 0..3 (low
  // first): 5, 5, 5, 3. Word 1 also holds ib=3's sub-scales at bits 6..8 (= 2) and 9..11 (= 7).
  put16(b, 48, 0x5000);
  put16(b, 50, 0x5000 | (2u << 6) | (7u << 9));
  put16(b, 52, 0x5000);
  put16(b, 54, 0x3000);
  b[12] = 0x01;       // ib=3, l=0
  b[15] = 0x80;       // ib=3, l=3
  b[32 + 6] = 0x0A;   // l=0 nibble 1010: high bits 2 (-> 0x201 = 513), delta negative; l=1 nibble 0
  b[32 + 7] = 0x60;   // l=2 nibble 0; l=3 nibble 0110: high bits 6 (-> 0x680 = 1664), delta positive
  const auto y = deq(GgmlType::IQ1_M, b);
  // dl1 = d * (2*2 + 1) = 6825/4096 = 1.666259765625, dl2 = d * (2*7 + 1) = 20475/4096 = 4.998779296875.
  // grid[513] = 0xff0100ff00ff00ff -> -1,0,-1,0,-1,0,1,-1 with delta -0.125.
  EXPECT_EQ(y[96], -1.874542236328125f);   // dl1 * -1.125
  EXPECT_EQ(y[97], -0.208282470703125f);   // dl1 * -0.125
  EXPECT_EQ(y[102], 1.457977294921875f);   // dl1 * 0.875
  EXPECT_EQ(y[103], -1.874542236328125f);
  EXPECT_EQ(y[104], -1.457977294921875f);  // l=1: grid[0] = -1s, delta +: dl1 * -0.875
  EXPECT_EQ(y[112], -4.373931884765625f);  // l=2: grid[0], dl2 * -0.875
  // grid[1664] = 0x0100ff0000000001 -> 1,0,0,0,0,-1,0,1 with delta +0.125.
  EXPECT_EQ(y[120], 5.623626708984375f);   // dl2 * 1.125
  EXPECT_EQ(y[121], 0.624847412109375f);   // dl2 * 0.125
  EXPECT_EQ(y[125], -4.373931884765625f);  // dl2 * -0.875
  EXPECT_EQ(y[127], 5.623626708984375f);
}

// ---------------------------------------------------------------- non-linear 4-bit

// IQ4_NL: d@0, qs@2 (16); low nibbles are elements 0..15, high nibbles 16..31. Two blocks.
TEST(IQuants, Iq4NlBlocksDequantizeAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ4_NL, 2);
  put16(b, 0, 0x3800);  // block 0: d = 0.5
  b[2 + 3] = 0xF0;
  b[2 + 10] = 0x78;
  put16(b, 18, 0xC000);  // block 1: d = -2
  b[18 + 2] = 0x0F;
  const auto y = deq(GgmlType::IQ4_NL, b);
  EXPECT_EQ(y[3], -63.5f);  // 0.5 * kvalues[0] = 0.5 * -127
  EXPECT_EQ(y[19], 56.5f);  // 0.5 * kvalues[15] = 0.5 * 113
  EXPECT_EQ(y[10], 0.5f);   // 0.5 * kvalues[8] = 0.5 * 1
  EXPECT_EQ(y[26], -5.f);   // 0.5 * kvalues[7] = 0.5 * -10
  EXPECT_EQ(y[32], -226.f);  // -2 * 113
  EXPECT_EQ(y[48], 254.f);   // -2 * -127
}

// IQ4_XS: d@0, scales_h@2 (u16, 2 bits per sub-block), scales_l@4 (4 bytes, nibbles), qs@8 (128).
TEST(IQuants, Iq4XsBlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::IQ4_XS);
  put16(b, 0, 0x3000);  // d = 0.125
  put16(b, 2, 0x0800);  // scales_h bits 10..11 = 2: high bits of ib=5
  b[4 + 2] = 0xB0;      // scales_l[2] high nibble 0xB: low bits of ib=5
  b[8 + 16 * 5 + 4] = 0x1E;
  const auto y = deq(GgmlType::IQ4_XS, b);
  // ib=0: ls = 0 -> dl = 0.125 * (0 - 32) = -4; nibble 0 -> -4 * -127.
  EXPECT_EQ(y[0], 508.f);
  EXPECT_EQ(y[16], 508.f);
  // ib=5: ls = 0xB | 2 << 4 = 43 -> dl = 0.125 * (43 - 32) = 1.375.
  EXPECT_EQ(y[164], 122.375f);  // 1.375 * kvalues[14] = 1.375 * 89
  EXPECT_EQ(y[180], -143.f);    // 1.375 * kvalues[1] = 1.375 * -104
}

// ---------------------------------------------------------------- ternary

// TQ1_0: qs@0 (48), qh@48 (4), d@52. A byte holds trits t0..t4 as ceil((81t0+27t1+9t2+3t3+t4) * 256/243);
// trit n is ((byte * 3^n) mod 256) * 3 >> 8, value t - 1. Element order: qs[0..31] trit-major (element
// 32n + m), qs[32..47] trit-major (160 + 16n + m), qh trits 0..3 (240 + 4n + j).
TEST(IQuants, Tq10BlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::TQ1_0);
  put16(b, 52, 0x4000);  // d = 2
  // Trits (2,0,1,2,1): v = 162+0+9+6+1 = 178, (178*256 + 242) / 243 = 188.
  b[7] = 188;
  b[40] = 188;
  // Trits (0,2,2,1) and a 0 fifth: v = 0+54+18+3 = 75, (75*256 + 242) / 243 = 80.
  b[48 + 2] = 80;
  const auto y = deq(GgmlType::TQ1_0, b);
  EXPECT_EQ(y[0], -2.f);  // byte 0 -> trits 0 -> -1 * 2
  EXPECT_EQ(y[7], 2.f);
  EXPECT_EQ(y[39], -2.f);
  EXPECT_EQ(y[71], 0.f);
  EXPECT_EQ(y[103], 2.f);
  EXPECT_EQ(y[135], 0.f);
  EXPECT_EQ(y[168], 2.f);  // qs[40]: 160 + 8
  EXPECT_EQ(y[184], -2.f);
  EXPECT_EQ(y[200], 0.f);
  EXPECT_EQ(y[216], 2.f);
  EXPECT_EQ(y[232], 0.f);
  EXPECT_EQ(y[242], -2.f);  // qh[2]: 240 + 2
  EXPECT_EQ(y[246], 2.f);
  EXPECT_EQ(y[250], 2.f);
  EXPECT_EQ(y[254], 0.f);
  EXPECT_EQ(y[255], -2.f);
}

// TQ2_0: qs@0 (64), d@64; per 32 bytes, bit pair l of byte m is element 128*(j/32) + 32l + m; x = (q-1)*d.
TEST(IQuants, Tq20BlockDequantizesAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::TQ2_0);
  put16(b, 64, 0x3400);  // d = 0.25
  b[33] = 0xE4;          // pairs (low first) 0, 1, 2, 3
  const auto y = deq(GgmlType::TQ2_0, b);
  EXPECT_EQ(y[0], -0.25f);
  EXPECT_EQ(y[129], -0.25f);  // (0 - 1) * 0.25
  EXPECT_EQ(y[161], 0.f);
  EXPECT_EQ(y[193], 0.25f);
  EXPECT_EQ(y[225], 0.5f);  // q = 3 is representable and gives 2d, as in ggml
}

// ---------------------------------------------------------------- MXFP4

// MXFP4: e@0, qs@1 (16), 17 bytes. kvalues_mxfp4 are E2M1 values doubled and ggml multiplies by
// 2^(e-127) / 2 (GGML_E8M0_TO_FP32_HALF), so x = E2M1 value * 2^(e-127); e = 0 and 1 give subnormal
// scales, e = 255 gives 2^127 (no NaN), as ggml's helper does.
TEST(IQuants, Mxfp4BlocksDequantizeAsTheDefinitionSays) {
  Bytes b = zero_blocks(GgmlType::MXFP4, 5);
  b[0] = 130;        // block 0: half-scale 2^(130-128) = 4
  b[1 + 2] = 0xF7;   // element 2: kv[7] = 12, element 18: kv[15] = -12
  b[1 + 5] = 0x9A;   // element 5: kv[10] = -2, element 21: kv[9] = -1
  b[17] = 127;       // block 1: half-scale 0.5
  b[18] = 0x05;      // kv[5] = 6 -> E2M1 3.0 * 2^0
  b[34] = 0;         // block 2: half-scale 2^-128 (bits 0x00200000)
  b[35] = 0x21;
  b[51] = 255;       // block 3: half-scale 2^127
  b[52] = 0x01;
  b[68] = 1;         // block 4: half-scale 2^-127 (bits 0x00400000)
  b[69] = 0x01;
  const auto y = deq(GgmlType::MXFP4, b);
  EXPECT_EQ(y[0], 0.f);
  EXPECT_EQ(y[2], 48.f);   // 12 * 4
  EXPECT_EQ(y[18], -48.f);
  EXPECT_EQ(y[5], -8.f);   // -2 * 4
  EXPECT_EQ(y[21], -4.f);  // -1 * 4
  EXPECT_EQ(y[32], 3.f);   // 6 * 0.5
  EXPECT_EQ(y[48], 0.f);
  EXPECT_EQ(y[64], std::ldexp(1.f, -128));  // 1 * 2^-128
  EXPECT_EQ(y[80], std::ldexp(1.f, -127));  // 2 * 2^-128
  EXPECT_EQ(y[96], std::ldexp(1.f, 127));   // 1 * 2^127
  EXPECT_EQ(y[128], std::ldexp(1.f, -127));
}

// ---------------------------------------------------------------- errors

TEST(IQuants, RejectsTypesItDoesNotHandle) {
  const float src[32] = {};
  float dst[32];
  EXPECT_THROW(dequantize_iq(GgmlType::F32, src, dst, 1), std::invalid_argument);
  EXPECT_THROW(dequantize_iq(GgmlType::Q4_0, src, dst, 1), std::invalid_argument);
}

}  // namespace
}  // namespace qs
