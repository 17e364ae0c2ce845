// Conversion between float rows and ggml's element formats (scalar reference path, bit-exact with ggml).
#pragma once
#include <cstdint>

#include "tensor/ggml_type.h"

namespace qs {

// Dequantize n elements (n a multiple of the type's block size) from src into dst.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// Quantize n floats into dst with ggml's reference algorithm (quantize_row_*_ref), n a multiple of
// the block size. Supported for every storable type plus Q8_K and Q8_1.
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// Dot product of one row in format t with a float vector, accumulated in fp32. Dequantizes block by
// block into a stack buffer (no heap); this is the scalar reference that SIMD kernels are checked against.
float dot_row_f32(GgmlType t, const void* row, const float* x, int64_t n);

}  // namespace qs
