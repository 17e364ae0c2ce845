// MLA's per-head up-projections on Q4_K weights (W_UV·o_lat and W_UKᵀ·q_nope, the absorbed decode's
// two products per head) with 16-bit integer activations. The float-activation kernels spent three
// operations per 16 weights turning nibbles into floats, which made this ~2% of the bytes take ~7% of
// a Q4_K decode step; here each pair of weights is one `vpdpwssd` lane against activations rounded to
// 16 bits (15 + sign, one scale per 32-column sub-block), with the integer sums exact. That rounding is
// ≤ 2⁻¹⁶ of the sub-block's largest value — below the F16 storage of the other up-projection types,
// and 256× finer than the 8 bits every other product's activations get (rounding the latent to 8 bits
// was measured to move the fixture logits ten times more than all other products together).
#pragma once
#include <cstddef>
#include <cstdint>

namespace qs {

struct PrefetchTrail;  // prefetch.h: the rows the caller reads next (may be null)

// out[r] = Σ_c W[r][c]·x[c] for nr Q4_K rows of n columns (n a multiple of 256); x: n floats.
void dot_q4_K_x16_avx512(const uint8_t* w, size_t stride, int64_t nr, const float* x, int64_t n, float* out, PrefetchTrail* next);
// out[c] += Σ_r wts[r]·W[r][c] over nr Q4_K rows of n columns.
void axpy_q4_K_y16_avx512(const uint8_t* rows, size_t stride, int64_t nr, const float* wts, int64_t n, float* out,
                          PrefetchTrail* next);

// The same arithmetic in plain C++ (the same 16-bit values and exact integer sums; only the order of
// float additions differs), for the tests.
void dot_q4_K_x16_scalar(const uint8_t* w, size_t stride, int64_t nr, const float* x, int64_t n, float* out, PrefetchTrail* next);
void axpy_q4_K_y16_scalar(const uint8_t* rows, size_t stride, int64_t nr, const float* wts, int64_t n, float* out,
                          PrefetchTrail* next);

}  // namespace qs
