// A non-owning view of a 2-D weight matrix in any storable type: `rows` rows of `cols` elements,
// each row `row_stride` bytes apart (rows of one GGUF tensor are contiguous; 3-D expert tensors
// are sliced into one view per expert).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/ggml_type.h"

namespace qs {

// How rows' bytes are arranged. File: the GGUF block layout, row after row. Q8x16: Q8_0 repacked
// at load for VNNI (same size), in groups of 16 rows: the group's fp16 scales block by block
// (16 per block), then its quants block by block, each block as 8 steps of 4 consecutive values
// for all 16 rows, stored unsigned (q + 128). One 64-byte load then feeds one VNNI product that
// advances 16 rows at once, and the 16 results land in the 16 lanes (no horizontal sums).
// Q4Kx16: Q4_K repacked the same way (type stays Q4_K, activations Q8_K), 256-column block by
// block: the 16 rows' fp16 d and dmin, their 6-bit sub-block scales and mins as in the file,
// then the nibbles so that one 64-byte load holds 4 values of all 16 rows twice (low and high
// nibbles); 144 bytes per row and block, as in the file, so 16-row slices stay valid (q4k_x16.h).
// Q5x16: Q5_0 the same way (type stays Q5_0, activations as Q8x16's): per block the 16 fp16
// scales, then nibbles and high bits that rebuild Q8x16's steps in registers; 22 bytes per row and
// block, like the file (q5_x16.h).
// Views of these layouts start and end on 16-row group boundaries.
enum class RowLayout : uint8_t { File, Q8x16, Q4Kx16, Q5x16 };

struct MatView {
  const uint8_t* data = nullptr;
  GgmlType type = GgmlType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_stride = 0;
  RowLayout layout = RowLayout::File;

  bool empty() const { return data == nullptr; }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_stride; }
  MatView slice_rows(int64_t r0, int64_t n) const {
    MatView v = *this;
    v.data = row(r0);
    v.rows = n;
    return v;
  }
};

}  // namespace qs
