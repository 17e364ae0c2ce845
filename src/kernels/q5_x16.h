// Q5_0 weights in 16-row groups (RowLayout::Q5x16, see tensor/mat_view.h): packing, exact
// dequantization, the exact conversion to a Q8x16 group, and the grouped kernels.
//
// Q5_0 used to be widened to Q8x16 at load (8.5 bits per weight instead of 5.5): exact, but decode
// then streamed 1.55x its bytes. This layout keeps the file's 22 bytes per row and block and
// rebuilds the Q8x16 kernel's operands in registers, so decode reads only what the file holds.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/qdot.h"

namespace qs {

// One 32-column block of a 16-row group: 16 × 22 bytes, like the file (16-row slices stay valid).
inline constexpr size_t kQ5x16BlockBytes = 352;

// Packs 16 consecutive Q5_0 rows (file layout, row_stride apart) into one group.
void pack_q5x16_group(const uint8_t* rows, size_t row_stride, int64_t cols, uint8_t* grp);
// Row `lane` (0..15) of a group as floats, bit for bit what dequantize_row gives for the file row.
void q5x16_row_to_float(const uint8_t* grp, int lane, int64_t cols, float* out);
// The group as a Q8x16 group (16 · row_bytes(Q8_0, cols) bytes): same scales, quants q − 16, so
// the Q8x16 kernels (AMX for batches) give exactly what they gave on the widened copy.
void q5x16_group_to_q8x16(const uint8_t* grp, int64_t cols, uint8_t* out);

// `blocks` blocks of a group's quants (past its scales) as signed Q8x16 steps, q − 16, 512 bytes
// per block: the AMX kernel's B tiles. Needs AVX-512 (only the AMX path calls it).
void q5x16_blocks_to_signed(const uint8_t* quants, int64_t blocks, uint8_t* dst);

// The grouped kernel (GemmFn's contract: nr a multiple of 16, stride the view's row_stride) against
// Q8_32Split activations. At Avx512 it is bit-identical to the Q8x16 VNNI kernel on the converted
// group (AMX for batches where usable: gemm_amx.cpp, bit-identical too); scalar reference below.
GemmFn q5x16_gemm_kernel(SimdLevel level);
inline GemmFn q5x16_gemm_kernel() { return q5x16_gemm_kernel(active_simd_level()); }
GemmFn q5x16_gemm_avx512();
GemmFn q5x16_gemm_amx();  // nullptr unless amx_usable(); small batches go to the AVX-512 kernel

}  // namespace qs
