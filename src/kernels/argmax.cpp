// GCC 12 false positives inside the intrinsics headers (their _mm512_undefined_* placeholders).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/argmax.h"
#include "kernels/target.h"

#include <immintrin.h>

#include <cmath>
#include <limits>


namespace qs {

namespace {

int64_t argmax_scalar(const float* x, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isnan(x[i]) && (best < 0 || x[i] > x[best])) best = i;
  return best < 0 ? 0 : best;
}

// Two passes: the largest value (vmaxps returns its second operand when the first is NaN, so NaN
// lanes never enter the running maximum), then the first lane equal to it.
QS_TARGET_AVX512F int64_t argmax_avx512(const float* x, int64_t n) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 m0 = neg_inf, m1 = neg_inf;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
  }
  for (; i < n; i += 16) {
    const __mmask16 live = n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
    m0 = _mm512_max_ps(_mm512_mask_loadu_ps(neg_inf, live, x + i), m0);
  }
  const __m512 best = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1)));
  for (i = 0; i < n; i += 16) {
    const __mmask16 live = n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __mmask16 hit = _mm512_mask_cmp_ps_mask(live, _mm512_maskz_loadu_ps(live, x + i), best, _CMP_EQ_OQ);
    if (hit) return i + __builtin_ctz(hit);
  }
  return 0;  // every value NaN
}

}  // namespace

ArgmaxFn argmax_kernel(SimdLevel level) { return level >= SimdLevel::Avx512 ? argmax_avx512 : argmax_scalar; }

}  // namespace qs
