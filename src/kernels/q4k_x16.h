// Q4_K weights in 16-row groups (RowLayout::Q4Kx16, see tensor/mat_view.h): packing, exact
// dequantization, and the grouped kernels against Q8_K activations.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/qdot.h"

namespace qs {

// One 256-column block of a 16-row group: 16 × 144 bytes, the file's own size, so rows stay 144 bytes
// per block apart and views can still be sliced at any multiple of 16 rows.
inline constexpr size_t kQ4Kx16BlockBytes = 2304;
inline constexpr size_t kQ4Kx16RowBytesPerBlock = kQ4Kx16BlockBytes / 16;

// Byte offsets inside one group block (kQ4Kx16BlockBytes). The rows' 12-byte 6-bit scale fields stay
// packed, as three 64-byte vectors of one 32-bit word per row; the kernels unpack them in registers
// (q4k_x16_scales.h: ~9 operations per block, where unpacking them at load cost 2.8% more bytes).
namespace q4kx16 {
inline constexpr size_t kD = 0;         // fp16 d[16]
inline constexpr size_t kDmin = 32;     // fp16 dmin[16]
inline constexpr size_t kScales = 64;   // u32 [w < 3][row r]: bytes 4w..4w+3 of row r's scales[12]
inline constexpr size_t kQuants = 256;  // [j][step s < 4][row r][i < 4]: low nibble element 32j+4s+i,
                                        // high nibble element 32j+16+4s+i (each 64 bytes = 2 VNNI operands)
}  // namespace q4kx16

// Packs 16 consecutive Q4_K rows (file layout, row_stride apart; cols a multiple of 256) into one group.
void pack_q4kx16_group(const uint8_t* rows, size_t row_stride, int64_t cols, uint8_t* grp);
// Row `lane` (0..15) of a group as floats, bit for bit what dequantize_row gives for the file row.
void q4kx16_row_to_float(const uint8_t* grp, int lane, int64_t cols, float* out);

// The grouped kernel (GemmFn's contract: nr a multiple of 16, stride the view's row_stride),
// activations in Q8_K, act_stride bytes apart. Scalar reference below Avx512.
// (AMX-INT8 for batches where amx_usable(): gemm_amx.cpp, bit-identical to the AVX-512 kernel.)
GemmFn q4kx16_gemm_kernel(SimdLevel level);
inline GemmFn q4kx16_gemm_kernel() { return q4kx16_gemm_kernel(active_simd_level()); }
GemmFn q4kx16_gemm_avx512();
GemmFn q4kx16_gemm_amx();  // nullptr unless amx_usable(); small batches go to the AVX-512 kernel

}  // namespace qs
