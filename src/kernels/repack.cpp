#include "kernels/repack.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu_features.h"
#include "kernels/thread_pool.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {

bool repack_worthwhile(const MatView& m) {
  // The Q8x16 kernel needs VNNI's unsigned×signed product and whole groups of 16 rows.
  return m.type == GgmlType::Q8_0 && m.layout == RowLayout::File && m.rows % 16 == 0 &&
         active_simd_level() >= SimdLevel::Avx512;
}

void pack_q8x16_group(const uint8_t* q8_rows, size_t row_stride, int64_t cols, uint8_t* grp) {
  const int64_t nb = cols / 32;
  uint8_t* quants = grp + 32 * nb;
  for (int r = 0; r < 16; ++r) {
    const auto* b = reinterpret_cast<const block_q8_0*>(q8_rows + r * row_stride);
    for (int64_t k = 0; k < nb; ++k) {
      std::memcpy(grp + 2 * (16 * k + r), &b[k].d, 2);
      uint8_t* qk = quants + 512 * k + 4 * r;
      for (int step = 0; step < 8; ++step) {  // 4 quants at a time; xor 0x80 per byte is q + 128
        uint32_t v;
        std::memcpy(&v, b[k].qs + 4 * step, 4);
        v ^= 0x80808080u;
        std::memcpy(qk + 64 * step, &v, 4);
      }
    }
  }
}

MatView repack(const MatView& src, uint8_t* dst) {
  if (src.type != GgmlType::Q8_0 || src.layout != RowLayout::File || src.rows % 16 != 0)
    throw std::invalid_argument("repack: only Q8_0 matrices with a multiple of 16 rows");
  const size_t rb = row_bytes(src.type, src.cols);
  global_pool().parallel_for(src.rows / 16, [&](int64_t g0, int64_t g1, int) {
    for (int64_t g = g0; g < g1; ++g) pack_q8x16_group(src.row(16 * g), src.row_stride, src.cols, dst + static_cast<size_t>(g) * 16 * rb);
  });
  MatView m = src;
  m.data = dst;
  m.row_stride = rb;
  m.layout = RowLayout::Q8x16;
  return m;
}

MatView copy_rows(const MatView& src, uint8_t* dst) {
  const size_t bytes = static_cast<size_t>(src.rows) * src.row_stride;
  global_pool().parallel_for(static_cast<int64_t>((bytes + (1 << 20) - 1) >> 20), [&](int64_t c0, int64_t c1, int) {
    const size_t lo = static_cast<size_t>(c0) << 20, hi = std::min(bytes, static_cast<size_t>(c1) << 20);
    std::memcpy(dst + lo, src.data + lo, hi - lo);
  });
  MatView m = src;
  m.data = dst;
  return m;
}

void row_to_float(const MatView& m, int64_t r, float* out) {
  if (m.layout == RowLayout::File) return dequantize_row(m.type, m.row(r), out, m.cols);
  const int64_t nb = m.cols / 32;
  const uint8_t* grp = m.row(r / 16 * 16);
  const int lane = static_cast<int>(r % 16);
  const uint8_t* quants = grp + 32 * nb;
  for (int64_t k = 0; k < nb; ++k) {
    uint16_t dh;
    std::memcpy(&dh, grp + 2 * (16 * k + lane), 2);
    const float d = fp16_to_f32(dh);
    for (int step = 0; step < 8; ++step)
      for (int i = 0; i < 4; ++i)
        out[32 * k + 4 * step + i] = d * static_cast<float>(static_cast<int>(quants[512 * k + 64 * step + 4 * lane + i]) - 128);
  }
}

}  // namespace qs
