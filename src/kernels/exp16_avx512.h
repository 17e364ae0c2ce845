// exp of 16 floats in one AVX-512 register, shared by the kernels that need it inline (softmax and
// SiLU in vec_exp_avx512.cpp, the online softmax of latent attention). Include only from files whose
// functions are compiled for AVX-512 (target attributes; cpu_features.h decides at run time).
#pragma once
#include <immintrin.h>

#include "kernels/target.h"

namespace qs {

// exp(x) = 2^n · e^r with n = round(x·log2 e) and r = x − n·ln 2 (ln 2 split in two so n·ln2_hi is
// exact), |r| ≤ ln2/2, e^r by its degree-7 Taylor polynomial (truncation < 5e-9 relative, below
// float rounding). scalef applies 2^n with correct overflow to inf and underflow through the
// denormals to 0; the clamp keeps r finite for any input (below −104 exp is 0 in float).
QS_TARGET_AVX512F inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(89.f)), _mm512_set1_ps(-104.f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}

}  // namespace qs
