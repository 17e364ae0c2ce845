#include "kernels/repack.h"

#include <cstring>
#include <stdexcept>

#include "kernels/cpu_features.h"
#include "kernels/thread_pool.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {

bool repack_worthwhile(GgmlType t) {
  // The split Q8_0 kernel needs VNNI's unsigned×signed product; elsewhere the file layout is as good.
  return t == GgmlType::Q8_0 && active_simd_level() >= SimdLevel::Avx512;
}

MatView repack(const MatView& src, uint8_t* dst) {
  if (src.type != GgmlType::Q8_0 || src.layout != RowLayout::File) throw std::invalid_argument("repack: only Q8_0 rows");
  const int64_t nb = src.cols / 32;
  const size_t rb = row_bytes(src.type, src.cols);
  global_pool().parallel_for(src.rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const auto* b = reinterpret_cast<const block_q8_0*>(src.row(r));
      uint8_t* out = dst + static_cast<size_t>(r) * rb;
      uint8_t* q = out + 2 * nb;
      for (int64_t k = 0; k < nb; ++k) {
        std::memcpy(out + 2 * k, &b[k].d, 2);
        for (int i = 0; i < 32; ++i) q[32 * k + i] = static_cast<uint8_t>(b[k].qs[i] + 128);
      }
    }
  });
  MatView m = src;
  m.data = dst;
  m.row_stride = rb;
  m.layout = RowLayout::Q8Split;
  return m;
}

void row_to_float(const MatView& m, int64_t r, float* out) {
  if (m.layout == RowLayout::File) return dequantize_row(m.type, m.row(r), out, m.cols);
  const int64_t nb = m.cols / 32;
  const uint8_t* row = m.row(r);
  const uint8_t* q = row + 2 * nb;
  for (int64_t k = 0; k < nb; ++k) {
    uint16_t dh;
    std::memcpy(&dh, row + 2 * k, 2);
    const float d = fp16_to_f32(dh);
    for (int i = 0; i < 32; ++i) out[32 * k + i] = d * static_cast<float>(static_cast<int>(q[32 * k + i]) - 128);
  }
}

}  // namespace qs
