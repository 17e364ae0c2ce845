// Index of the largest value: greedy decoding's pick over the vocabulary (V3: 129,280 logits per
// token, which the scalar loop took ~1% of a decode step to scan while the other threads waited).
// NaN entries are skipped; ties go to the lowest index; all-NaN (or n <= 0) gives 0. The scalar
// version is the reference; the AVX-512 one scans 16 lanes at a time and is chosen at run time.
#pragma once
#include <cstdint>

#include "kernels/cpu_features.h"

namespace qs {

using ArgmaxFn = int64_t (*)(const float* x, int64_t n);
ArgmaxFn argmax_kernel(SimdLevel level);
inline int64_t argmax_f32(const float* x, int64_t n) { return argmax_kernel(active_simd_level())(x, n); }

}  // namespace qs
