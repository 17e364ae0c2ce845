// Row dot products on weights in their file format: out[r] = W[r] · x for a block of rows.
// Integer formats multiply against activations quantized to 8 bits (as the reference engines do):
// 32-element blocks for the legacy formats, 256-element Q8_K blocks for the K-quants. Float
// formats (F32/F16/BF16) multiply against float activations. Each kernel exists as a scalar
// reference and, where it pays, AVX2 and AVX-512 VNNI versions chosen at run time.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"
#include "tensor/ggml_type.h"
#include "tensor/mat_view.h"

namespace qs {

struct PrefetchTrail;  // prefetch.h

enum class ActFormat {
  None,   // no direct kernel: dequantize rows and use the float path
  F32,    // float activations
  Q8_32,  // BlockQ8A: 32 int8 with a float scale and their sum
  Q8_K,   // block_q8_K: 256 int8, float scale, sums of 16
  Q8_32Split,  // for Q8x16 rows: int8 qs[n], then float d[n/32], then int32 sum[n/32]
};

struct BlockQ8A {
  float d;
  int32_t sum;  // Σ qs, for formats stored with an offset (Q4_0's -8, Q5_0's -16)
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8A) == 40);

ActFormat act_format(GgmlType w);
ActFormat act_format(const MatView& w);
size_t act_bytes(ActFormat f, int64_t n);
// Quantizes (or copies) n floats into the activation format; n a multiple of its block size.
void quantize_act(ActFormat f, const float* x, void* dst, int64_t n);

// out[r] = dot(row r, act) for r < nr; rows are `stride` bytes apart and n elements long.
using RowDotFn = void (*)(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out);

// The kernel for a weight type at a SIMD level, falling back to lower levels; nullptr if none.
RowDotFn row_dot_kernel(GgmlType w, SimdLevel level);
inline RowDotFn row_dot_kernel(GgmlType w) { return row_dot_kernel(w, active_simd_level()); }
// The kernel for a view's type and row layout.
RowDotFn row_dot_kernel(const MatView& w, SimdLevel level);
inline RowDotFn row_dot_kernel(const MatView& w) { return row_dot_kernel(w, active_simd_level()); }

// Row dots against float activations whatever the weight type's own activation format: the float
// types' kernels, Q8_0 rows converted in registers, Q4_K against 16-bit roundings of them at AVX-512
// (q4k_mla.h) — MLA's up-projections. nullptr for others. `next` (may be null) names the rows the
// caller reads after these: the Q8_0/Q4_K kernels prefetch them once past their own last rows.
using FloatDotFn = void (*)(const uint8_t* w, size_t stride, int64_t nr, const float* x, int64_t n, float* out,
                            PrefetchTrail* next);
FloatDotFn row_dot_f32act_kernel(GgmlType w, SimdLevel level);
// A float-type kernel (its activations are floats already) as a FloatDotFn.
template <RowDotFn F>
void float_dot(const uint8_t* w, size_t stride, int64_t nr, const float* x, int64_t n, float* out, PrefetchTrail*) {
  F(w, stride, nr, x, n, out);
}
inline FloatDotFn row_dot_f32act_kernel(GgmlType w) { return row_dot_f32act_kernel(w, active_simd_level()); }
FloatDotFn row_dot_f32act_scalar(GgmlType w);
FloatDotFn row_dot_f32act_avx2(GgmlType w);
FloatDotFn row_dot_f32act_avx512(GgmlType w);

// Several activation vectors at once against Q8x16 rows (nr a multiple of 16):
// out[t·out_stride + r] = row r · act_t, act_t at act + t·act_stride.
using GemmFn = void (*)(const uint8_t* w, size_t stride, int64_t nr, const uint8_t* act, size_t act_stride,
                        int64_t n_tok, int64_t n, float* out, size_t out_stride);
GemmFn q8x16_gemm_kernel(SimdLevel level);
inline GemmFn q8x16_gemm_kernel() { return q8x16_gemm_kernel(active_simd_level()); }
GemmFn q8x16_gemm_scalar();
GemmFn q8x16_gemm_avx512();
// AMX-INT8 (gemm_amx.cpp); nullptr unless amx_usable(). Hands small batches (and a few leftover
// tokens) to the AVX-512 kernel; q8x16_gemm_kernel picks it at the Avx512 level where usable.
GemmFn q8x16_gemm_amx();

// Fast paths of the conversions above (nullptr where the CPU lacks them): activations into
// Q8_32Split, and 16 float rows (row_stride floats apart) into one Q8x16 group.
using QuantActFn = void (*)(const float* x, void* dst, int64_t n);
using PackGroupFn = void (*)(const float* rows, size_t row_stride, int64_t cols, uint8_t* grp);
QuantActFn quant_act_q8split_avx512();
QuantActFn quant_act_q8a_avx512();
QuantActFn quant_act_q8k_avx512();
PackGroupFn pack_group_from_float_avx512();

// out[c] += Σ_r weights[r] · row_r[c] over nr rows (attention's weighted sum of cached values, MLA's
// transposed per-head products). Float formats, Q8_0 and Q4_K; rows are `stride` bytes apart and n
// elements long; `next` as for FloatDotFn.
using RowsAxpyFn = void (*)(const uint8_t* rows, size_t stride, int64_t nr, const float* weights, int64_t n, float* out,
                            PrefetchTrail* next);
RowsAxpyFn rows_axpy_kernel(GgmlType t, SimdLevel level);
inline RowsAxpyFn rows_axpy_kernel(GgmlType t) { return rows_axpy_kernel(t, active_simd_level()); }
RowsAxpyFn rows_axpy_scalar(GgmlType t);
RowsAxpyFn rows_axpy_avx512(GgmlType t);

// Per-level tables (defined in qdot_scalar.cpp, qdot_avx2.cpp, qdot_avx512.cpp).
RowDotFn row_dot_scalar(GgmlType w);
RowDotFn row_dot_avx2(GgmlType w);
RowDotFn row_dot_avx512(GgmlType w);

}  // namespace qs
