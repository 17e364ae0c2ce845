// Conversion between float rows and ggml's element formats (scalar reference path, bit-exact with ggml).
#pragma once
#include <cstdint>

#include "tensor/ggml_type.h"

namespace qs {

// Dequantize n elements (n a multiple of the type's block size) from src into dst.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// Dequantize n_blocks blocks of an i-quant (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_NL,
// IQ4_XS), ternary (TQ1_0, TQ2_0) or MXFP4 type, exactly as ggml does; std::invalid_argument for any other
// type. Writes n_blocks * block_size floats.
void dequantize_iq(GgmlType t, const void* src, float* dst, int64_t n_blocks);

// The type a matrix of row length ne0 is stored in when `requested` does not fit its blocks, as
// llama.cpp's quantizer falls back: Q2_K/Q3_K -> Q4_0 (llama.cpp: IQ4_NL), Q4_K -> Q5_0, Q5_K -> Q5_1,
// Q6_K -> Q8_0; then F16 if the row is not a multiple of 32 either.
GgmlType quant_fallback_type(GgmlType requested, int64_t ne0);

// Quantize n floats into dst with ggml's reference algorithm (quantize_row_*_ref), n a multiple of
// the block size. Supported for F32 … Q6_K plus Q8_K and Q8_1; the i-quants, ternary types and MXFP4
// have no quantizer here (std::invalid_argument).
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// Dot product of one row in format t with a float vector, accumulated in fp32. Dequantizes block by
// block into a stack buffer (no heap); this is the scalar reference that SIMD kernels are checked against.
float dot_row_f32(GgmlType t, const void* row, const float* x, int64_t n);

}  // namespace qs
