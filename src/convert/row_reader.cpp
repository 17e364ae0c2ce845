#include "convert/row_reader.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/fp16.h"

namespace qs {

float fp8_e4m3_to_float(uint8_t v) {
  const int sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
  float f;
  if (exp == 15 && man == 7) f = std::numeric_limits<float>::quiet_NaN();
  else if (exp == 0) f = std::ldexp(static_cast<float>(man), -9);  // subnormal: man/8 * 2^-6
  else f = std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
  return sign ? -f : f;
}

RowReader::RowReader(const StTensor& t, const StTensor* scale_inv, int64_t block_rows, int64_t block_cols)
    : t_(t), scale_(scale_inv), rows_(t.rows()), cols_(t.cols()), br_(block_rows), bc_(block_cols) {
  if (t.dtype == StDtype::F8_E4M3) {
    if (!scale_) throw CheckpointError(t.name + ": FP8 weight without " + t.name + "_scale_inv");
    if (t.shape.size() != 2) throw CheckpointError(t.name + ": FP8 weights must be 2-D");
    if (br_ <= 0 || bc_ <= 0) throw CheckpointError(t.name + ": FP8 weight without quantization_config.weight_block_size");
    const int64_t want_r = (rows_ + br_ - 1) / br_, want_c = (cols_ + bc_ - 1) / bc_;
    if (scale_->dtype != StDtype::F32 || scale_->shape.size() != 2 || scale_->shape[0] != want_r || scale_->shape[1] != want_c)
      throw CheckpointError(scale_->name + ": expected F32 [" + std::to_string(want_r) + ", " + std::to_string(want_c) +
                            "] scales for " + t.name);
    scale_cols_ = want_c;
  } else if (t.dtype != StDtype::F32 && t.dtype != StDtype::F16 && t.dtype != StDtype::BF16) {
    throw CheckpointError(t.name + ": dtype " + st_dtype_name(t.dtype) + " is not a weight type");
  }
}

void RowReader::read(int64_t r0, int64_t n, float* out) const {
  const size_t count = static_cast<size_t>(n * cols_), first = static_cast<size_t>(r0 * cols_);
  switch (t_.dtype) {
    case StDtype::F32:
      std::memcpy(out, t_.data + first * 4, count * 4);
      return;
    case StDtype::F16:
    case StDtype::BF16: {
      const auto* src = reinterpret_cast<const uint16_t*>(t_.data) + first;
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + i, 2);
        out[i] = t_.dtype == StDtype::F16 ? fp16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    }
    case StDtype::F8_E4M3: {
      static const auto table = [] {
        std::array<float, 256> t{};
        for (int i = 0; i < 256; ++i) t[static_cast<size_t>(i)] = fp8_e4m3_to_float(static_cast<uint8_t>(i));
        return t;
      }();
      std::vector<float> srow(static_cast<size_t>(scale_cols_));  // copied: the file gives no alignment
      for (int64_t r = 0; r < n; ++r) {
        const uint8_t* row = t_.data + (r0 + r) * cols_;
        std::memcpy(srow.data(), scale_->data + ((r0 + r) / br_) * scale_cols_ * 4, srow.size() * 4);
        float* o = out + r * cols_;
        for (int64_t c = 0; c < cols_; ++c) o[c] = table[row[c]] * srow[c / bc_];
      }
      return;
    }
    default:
      return;
  }
}

}  // namespace qs
