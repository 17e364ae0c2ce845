// Elementwise exponentials of the hot loops: the softmax of attention (millions of exp per long
// prefill) and SiLU in every FFN (n_ff per token and expert). std::exp is the scalar reference; the
// AVX-512 versions evaluate 16 lanes at once within a few ulp of it (tests/test_vec_exp.cpp), chosen
// at run time like the other kernels.
#pragma once
#include <cstdint>

#include "kernels/cpu_features.h"

namespace qs {

// p[i] = exp(p[i] − shift) for i < n; returns Σ p[i] (a float sum, order unspecified).
using ExpShiftSumFn = float (*)(float* p, int64_t n, float shift);
// gate[i] = silu(gate[i]) · up[i], silu(x) = x / (1 + exp(−x)).
using SwigluFn = void (*)(float* gate, const float* up, int64_t n);

ExpShiftSumFn exp_shift_sum_kernel(SimdLevel level);
SwigluFn swiglu_kernel(SimdLevel level);
inline ExpShiftSumFn exp_shift_sum_kernel() { return exp_shift_sum_kernel(active_simd_level()); }
inline SwigluFn swiglu_kernel() { return swiglu_kernel(active_simd_level()); }

ExpShiftSumFn exp_shift_sum_avx512();  // only handed out when the CPU has AVX-512
SwigluFn swiglu_avx512();

}  // namespace qs
