// Q4_K weights in 16-row groups (RowLayout::Q4Kx16, see tensor/mat_view.h): packing, exact
// dequantization, and the grouped kernels against Q8_K activations.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/qdot.h"

namespace qs {

// One 256-column block of a 16-row group: 16 × 148 bytes, so rows stay 148 bytes per block apart
// and views can still be sliced at any multiple of 16 rows.
inline constexpr size_t kQ4Kx16BlockBytes = 2368;
inline constexpr size_t kQ4Kx16RowBytesPerBlock = kQ4Kx16BlockBytes / 16;

// Packs 16 consecutive Q4_K rows (file layout, row_stride apart; cols a multiple of 256) into one group.
void pack_q4kx16_group(const uint8_t* rows, size_t row_stride, int64_t cols, uint8_t* grp);
// Row `lane` (0..15) of a group as floats, bit for bit what dequantize_row gives for the file row.
void q4kx16_row_to_float(const uint8_t* grp, int lane, int64_t cols, float* out);
// All 16 rows of a group the same way (row r at out + r·out_stride); AVX-512 where active.
void q4kx16_group_to_float(const uint8_t* grp, int64_t cols, float* out, size_t out_stride);

// The grouped kernel (GemmFn's contract: nr a multiple of 16, stride the view's row_stride),
// activations in Q8_K, act_stride bytes apart. Scalar reference below Avx512.
GemmFn q4kx16_gemm_kernel(SimdLevel level);
inline GemmFn q4kx16_gemm_kernel() { return q4kx16_gemm_kernel(active_simd_level()); }

}  // namespace qs
