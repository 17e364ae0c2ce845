// The 16 rows' 6-bit sub-block scales and mins of one Q4Kx16 group block, unpacked in registers from
// the file's 12-byte fields (kept packed at kScales: word w of row r in dword r of vector w). Per
// dword lane r, bytes 0..3 of sc[0] are row r's scales 0..3 and of sc[1] scales 4..7; mn likewise.
// The same bit fields as get_scale_min_k4: scales 0..3 / mins 0..3 are the low 6 bits of words 0 / 1;
// scales 4..7 take their low 4 bits from the low nibbles of word 2 and their top 2 bits from the top
// bits of word 0 (mins: high nibbles of word 2, top bits of word 1).
// Include only from files whose kernels carry AVX-512 BW target attributes.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "kernels/q4k_x16.h"
#include "kernels/target.h"


namespace qs::q4kx16 {

struct Scales {
  __m512i sc[2], mn[2];
};

QS_TARGET_AVX512_VNNI inline Scales unpack_scales(const uint8_t* blk) {
  const __m512i w0 = _mm512_loadu_si512(blk + kScales), w1 = _mm512_loadu_si512(blk + kScales + 64),
                w2 = _mm512_loadu_si512(blk + kScales + 128);
  const __m512i k6 = _mm512_set1_epi8(0x3F), k4 = _mm512_set1_epi8(0x0F), top = _mm512_set1_epi8(0x30);
  Scales s;
  s.sc[0] = _mm512_and_si512(w0, k6);
  s.mn[0] = _mm512_and_si512(w1, k6);
  // (w2 & 0x0F) | ((w >> 2) & 0x30) per byte: bits 6..7 of each byte of w land in bits 4..5.
  s.sc[1] = _mm512_ternarylogic_epi32(k4, w2, _mm512_and_si512(_mm512_srli_epi32(w0, 2), top), 0xEA);
  s.mn[1] = _mm512_ternarylogic_epi32(k4, _mm512_srli_epi32(w2, 4), _mm512_and_si512(_mm512_srli_epi32(w1, 2), top), 0xEA);
  return s;
}

// vpshufb indices (per 128-bit lane, dword q of it is row 4·lane + q): built once, loaded as vectors,
// so the kernels spend one shuffle per scale vector.
struct ShuffleIndices {
  alignas(64) uint32_t lane[4][16];   // byte b of dword q → byte 0 of dword q, the rest zero
  alignas(64) uint32_t bytes[4][16];  // byte b of dword q → all four bytes of dword q
  alignas(64) uint32_t pair[2][16];   // bytes b, b+1 of dword q → its two 16-bit halves (b = 0, 2)
};

constexpr ShuffleIndices make_shuffle_indices() {
  ShuffleIndices t{};
  for (uint32_t e = 0; e < 16; ++e) {
    const uint32_t q = 4 * (e % 4);
    for (uint32_t b = 0; b < 4; ++b) {
      t.lane[b][e] = 0x80808000u | (q + b);
      t.bytes[b][e] = 0x01010101u * (q + b);
    }
    for (uint32_t h = 0; h < 2; ++h) t.pair[h][e] = 0x80008000u | (q + 2 * h) | (q + 2 * h + 1) << 16;
  }
  return t;
}

inline constexpr ShuffleIndices kShuffle = make_shuffle_indices();

// Scale j of row r, widened to the 32-bit lane r.
QS_TARGET_AVX512_VNNI inline __m512i scale_lanes(const Scales& s, int j) {
  return _mm512_shuffle_epi8(s.sc[j / 4], _mm512_load_si512(kShuffle.lane[j % 4]));
}

// Scale j of row r in all four bytes of lane r (for byte-wise products).
QS_TARGET_AVX512_VNNI inline __m512i scale_bytes(const Scales& s, int j) {
  return _mm512_shuffle_epi8(s.sc[j / 4], _mm512_load_si512(kShuffle.bytes[j % 4]));
}

// Mins 2p and 2p+1 of row r as the two 16-bit halves of lane r (for vpdpwssd against two bsums).
QS_TARGET_AVX512_VNNI inline __m512i min_pair(const Scales& s, int p) {
  return _mm512_shuffle_epi8(s.mn[p / 2], _mm512_load_si512(kShuffle.pair[p % 2]));
}

}  // namespace qs::q4kx16
