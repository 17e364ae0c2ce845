// Small vector operations on float activations (the scalar reference path; fast enough to
// autovectorize, and the numerics every SIMD kernel is compared against). swiglu_inplace goes
// through vec_exp.h's run-time choice.
#pragma once
#include <cstdint>

namespace qs {

float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float a, const float* x, float* y, int64_t n);  // y += a*x
// y = w ⊙ x / sqrt(mean(x²) + eps); y may alias x. Mean of squares accumulated in double.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);
void softmax_inplace(float* x, int64_t n);
inline float silu(float x);
void swiglu_inplace(float* gate, const float* up, int64_t n);  // gate = silu(gate) * up (vec_exp.h's kernel)

}  // namespace qs

#include <cmath>
namespace qs {
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
}  // namespace qs
