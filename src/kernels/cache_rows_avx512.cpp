// AVX-512 conversion of KV-cache rows to float (see cache_rows.h): MLA's absorbed decode converts a
// chunk of the latent cache once for all of a thread's heads, so this runs once per cached row and
// layer instead of once per head.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/cache_rows.h"
#include "kernels/prefetch.h"
#include "kernels/target.h"
#include "tensor/quant_blocks.h"

namespace qs {

namespace {

QS_TARGET_AVX512_VNNI inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Rows a conversion asks for ahead of the one it converts: the cache streams from memory in chunks
// with compute between them, where the hardware prefetcher alone kept the conversion waiting. Past
// the last row it asks for the rows that follow, which are the next chunk's.
constexpr int64_t kRowsAhead = 8;

template <bool kBf16>
QS_TARGET_AVX512_VNNI void half_rows(const uint8_t* rows, size_t stride, int64_t nr, int64_t n, float* out) {
  const int lines = static_cast<int>((stride + 63) / 64);
  for (int64_t r = 0; r < nr; ++r, out += n) {
    prefetch_lines(rows + (r + kRowsAhead) * stride, lines);
    const auto* row = reinterpret_cast<const uint16_t*>(rows + r * stride);
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = tail_mask(n - i);
      const __m256i h = _mm256_maskz_loadu_epi16(m, row + i);
      const __m512 f = kBf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
      _mm512_mask_storeu_ps(out + i, m, f);
    }
  }
}

QS_TARGET_AVX512_VNNI void q8_0_rows(const uint8_t* rows, size_t stride, int64_t nr, int64_t n, float* out) {
  const int lines = static_cast<int>((stride + 63) / 64);
  for (int64_t r = 0; r < nr; ++r, out += n) {
    prefetch_lines(rows + (r + kRowsAhead) * stride, lines);
    const auto* b = reinterpret_cast<const block_q8_0*>(rows + r * stride);
    for (int64_t k = 0; k < n / QK8_0; ++k) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[k].d));
      for (int h = 0; h < 2; ++h) {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[k].qs + 16 * h));
        _mm512_storeu_ps(out + QK8_0 * k + 16 * h, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q))));
      }
    }
  }
}

}  // namespace

RowsToFloatFn rows_to_float_avx512(GgmlType t) {
  switch (t) {
    case GgmlType::F16: return half_rows<false>;
    case GgmlType::BF16: return half_rows<true>;
    case GgmlType::Q8_0: return q8_0_rows;
    default: return nullptr;
  }
}

}  // namespace qs
