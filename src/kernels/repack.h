// Weights rearranged at load for the SIMD kernels (see RowLayout in tensor/mat_view.h).
#pragma once
#include <cstdint>

#include "tensor/mat_view.h"

namespace qs {

// Whether a matrix can be repacked into a faster layout on this CPU.
bool repack_worthwhile(const MatView& m);
// Repacks src (File layout) into dst (same byte size); returns the view of the result.
MatView repack(const MatView& src, uint8_t* dst);
// One row of any layout as floats (for paths that need plain values).
void row_to_float(const MatView& m, int64_t r, float* out);

}  // namespace qs
