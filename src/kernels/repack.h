// Weights rearranged at load for the SIMD kernels (see RowLayout in tensor/mat_view.h).
#pragma once
#include <cstdint>

#include "tensor/mat_view.h"

namespace qs {

// Whether a matrix can be repacked into a faster layout on this CPU.
bool repack_worthwhile(const MatView& m);
// Packs 16 consecutive Q8_0 rows (File layout, row_stride apart) into one Q8x16 group.
void pack_q8x16_group(const uint8_t* q8_rows, size_t row_stride, int64_t cols, uint8_t* grp);
// Repacks src (File layout) into dst (repacked_size bytes); returns the view of the result.
MatView repack(const MatView& src, uint8_t* dst);
// Bytes the matrix takes after repack (or copy_rows when repacking is not worthwhile).
size_t repacked_size(const MatView& m);
// Copies src unchanged into dst (same layout); returns the view of the copy.
MatView copy_rows(const MatView& src, uint8_t* dst);
// Group g (rows 16g..16g+15) of W converted to Q8x16, in a per-thread buffer valid until the next
// call: batches of other quantized formats run the Q8x16 kernel on it (plan.h).
const uint8_t* q8x16_group_of(const MatView& W, int64_t g);
// One row of any layout as floats (for paths that need plain values).
void row_to_float(const MatView& m, int64_t r, float* out);

}  // namespace qs
