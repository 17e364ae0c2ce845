#include "kernels/vec_exp.h"

#include <cmath>

#include "kernels/ops.h"

namespace qs {

namespace {

float exp_shift_sum_scalar(float* p, int64_t n, float shift) {
  float sum = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    p[i] = std::exp(p[i] - shift);
    sum += p[i];
  }
  return sum;
}

void swiglu_scalar(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = silu(gate[i]) * up[i];
}

}  // namespace

ExpShiftSumFn exp_shift_sum_kernel(SimdLevel level) {
  return level >= SimdLevel::Avx512 ? exp_shift_sum_avx512() : exp_shift_sum_scalar;
}

SwigluFn swiglu_kernel(SimdLevel level) { return level >= SimdLevel::Avx512 ? swiglu_avx512() : swiglu_scalar; }

}  // namespace qs
