// A non-owning view of a 2-D weight matrix in any storable type: `rows` rows of `cols` elements,
// each row `row_stride` bytes apart (rows of one GGUF tensor are contiguous; 3-D expert tensors
// are sliced into one view per expert).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/ggml_type.h"

namespace qs {

// How a row's bytes are arranged. File: the GGUF block layout. Q8Split: a Q8_0 row repacked at load
// for VNNI (same size): all nb fp16 scales first, then the nb×32 quants stored as unsigned (q + 128),
// so a 64-byte load covers two blocks and the product needs no sign juggling.
enum class RowLayout : uint8_t { File, Q8Split };

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
