// A checkpoint tensor's rows as floats, a few at a time (a 700 GB checkpoint is never held in memory):
// F32/F16/BF16 widened, FP8 e4m3 multiplied by its weight_scale_inv block (DeepSeek's FP8 releases: one
// F32 scale per block of 128 x 128, partial blocks at the edges).
#pragma once
#include <cstdint>

#include "convert/safetensors.h"

namespace qs {

// FP8 E4M3 ("FN": no infinities; 0x7f / 0xff are NaN) as a float.
float fp8_e4m3_to_float(uint8_t v);

class RowReader {
 public:
  // `scale_inv` (may be null) must be given for F8_E4M3 tensors; block_rows x block_cols is
  // quantization_config.weight_block_size.
  RowReader(const StTensor& t, const StTensor* scale_inv, int64_t block_rows, int64_t block_cols);
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // Rows [r0, r0 + n) into out (n x cols floats).
  void read(int64_t r0, int64_t n, float* out) const;

 private:
  const StTensor& t_;
  const StTensor* scale_ = nullptr;
  int64_t rows_, cols_, br_, bc_, scale_cols_ = 0;
};

}  // namespace qs
