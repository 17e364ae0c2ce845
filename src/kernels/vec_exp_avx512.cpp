// AVX-512 exp (see vec_exp.h). Per-function target attributes: the binary still runs without AVX-512.
// GCC 12 false positives inside the intrinsics headers (their _mm512_undefined_* placeholders).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "kernels/exp16_avx512.h"
#include "kernels/vec_exp.h"
#include "kernels/target.h"


namespace qs {

namespace {

QS_TARGET_AVX512F inline __mmask16 head_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

QS_TARGET_AVX512F float exp_shift_sum(float* p, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = head_mask(n - i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + i), s));
    _mm512_mask_storeu_ps(p + i, m, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, e));
  }
  return _mm512_reduce_add_ps(sum);
}

QS_TARGET_AVX512F void swiglu(float* gate, const float* up, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = head_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    // The scalar reference's operations: x / (1 + exp(−x)), then · up (a true division, not a reciprocal).
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

}  // namespace

ExpShiftSumFn exp_shift_sum_avx512() { return exp_shift_sum; }
SwigluFn swiglu_avx512() { return swiglu; }

}  // namespace qs
