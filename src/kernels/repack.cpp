#include "kernels/repack.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/q4k_x16.h"
#include "kernels/q5_x16.h"
#include "kernels/qdot.h"
#include "kernels/thread_pool.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {

bool repack_worthwhile(const MatView& m) {
  // Q4_K gets its own 16-row layout (its per-row kernel unpacked scales and summed lanes per row).
  if (m.type == GgmlType::Q4_K)
    return m.layout == RowLayout::File && m.rows % 16 == 0 && m.cols % QK_K == 0 && active_simd_level() >= SimdLevel::Avx512;
  // The Q8x16 kernel needs VNNI's unsigned×signed product and whole groups of 16 rows. Q5_0 gets
  // the same order in its own bytes (Q5x16). Q4_0 converts into Q8x16 exactly (its values d·(q−8)
  // are Q8_0 values with the same scale): more bytes, but its own kernel was 4x slower than memory
  // on this class of CPU.
  const bool type_ok = m.type == GgmlType::Q8_0 || m.type == GgmlType::Q5_0 || m.type == GgmlType::Q4_0;
  return type_ok && m.layout == RowLayout::File && m.rows % 16 == 0 && active_simd_level() >= SimdLevel::Avx512;
}

size_t repacked_size(const MatView& m) {
  if (m.type == GgmlType::Q4_K && repack_worthwhile(m))
    return static_cast<size_t>(m.rows) * kQ4Kx16RowBytesPerBlock * static_cast<size_t>(m.cols / QK_K);
  const bool widened = repack_worthwhile(m) && m.type != GgmlType::Q5_0;
  return widened ? static_cast<size_t>(m.rows) * row_bytes(GgmlType::Q8_0, m.cols)
                 : static_cast<size_t>(m.rows) * m.row_stride;
}

namespace {

// One Q4_0 row as Q8_0 blocks, exactly.
void q4_0_row_to_q8_0(const uint8_t* src, int64_t cols, block_q8_0* out) {
  for (int64_t k = 0; k < cols / 32; ++k) {
    int8_t* q = out[k].qs;
    const auto* b = reinterpret_cast<const block_q4_0*>(src) + k;
    out[k].d = b->d;
    for (int i = 0; i < 16; ++i) {
      q[i] = static_cast<int8_t>((b->qs[i] & 0xF) - 8);
      q[i + 16] = static_cast<int8_t>((b->qs[i] >> 4) - 8);
    }
  }
}

}  // namespace

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

namespace {

// A layout that keeps the type: every 16-row group through its packer, rb bytes per row after.
template <class PackFn>
MatView repack_same_type(const MatView& src, uint8_t* dst, size_t rb, RowLayout layout, PackFn pack) {
  global_pool().parallel_for(src.rows / 16, [&](int64_t g0, int64_t g1, int) {
    for (int64_t g = g0; g < g1; ++g) pack(src.row(16 * g), src.row_stride, src.cols, dst + static_cast<size_t>(g) * 16 * rb);
  });
  MatView m = src;
  m.data = dst;
  m.row_stride = rb;
  m.layout = layout;
  return m;
}

}  // namespace

MatView repack(const MatView& src, uint8_t* dst) {
  if (!repack_worthwhile(src)) throw std::invalid_argument("repack: only Q8_0/Q5_0/Q4_0/Q4_K matrices with a multiple of 16 rows");
  if (src.type == GgmlType::Q4_K)
    return repack_same_type(src, dst, kQ4Kx16RowBytesPerBlock * static_cast<size_t>(src.cols / QK_K), RowLayout::Q4Kx16, pack_q4kx16_group);
  if (src.type == GgmlType::Q5_0) return repack_same_type(src, dst, row_bytes(GgmlType::Q5_0, src.cols), RowLayout::Q5x16, pack_q5x16_group);
  const size_t rb = row_bytes(GgmlType::Q8_0, src.cols);
  global_pool().parallel_for(src.rows / 16, [&](int64_t g0, int64_t g1, int) {
    std::vector<block_q8_0> conv(src.type == GgmlType::Q8_0 ? 0 : static_cast<size_t>(16 * src.cols / 32));
    for (int64_t g = g0; g < g1; ++g) {
      uint8_t* out = dst + static_cast<size_t>(g) * 16 * rb;
      if (src.type == GgmlType::Q8_0) {
        pack_q8x16_group(src.row(16 * g), src.row_stride, src.cols, out);
        continue;
      }
      for (int r = 0; r < 16; ++r) q4_0_row_to_q8_0(src.row(16 * g + r), src.cols, conv.data() + r * (src.cols / 32));
      pack_q8x16_group(reinterpret_cast<const uint8_t*>(conv.data()), rb, src.cols, out);
    }
  });
  MatView m = src;
  m.type = GgmlType::Q8_0;
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
  if (m.layout == RowLayout::Q4Kx16) return q4kx16_row_to_float(m.row(r / 16 * 16), static_cast<int>(r % 16), m.cols, out);
  if (m.layout == RowLayout::Q5x16) return q5x16_row_to_float(m.row(r / 16 * 16), static_cast<int>(r % 16), m.cols, out);
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

const uint8_t* q8x16_group_of(const MatView& W, int64_t g) {
  thread_local std::vector<float> f;
  thread_local std::vector<uint8_t> grp;
  grp.resize(16 * row_bytes(GgmlType::Q8_0, W.cols));
  if (W.layout == RowLayout::Q5x16) {  // exact, without the float round trip
    q5x16_group_to_q8x16(W.row(16 * g), W.cols, grp.data());
    return grp.data();
  }
  f.resize(static_cast<size_t>(16 * W.cols));
  for (int r = 0; r < 16; ++r) row_to_float(W, 16 * g + r, f.data() + r * W.cols);
  pack_group_from_float_avx512()(f.data(), static_cast<size_t>(W.cols), W.cols, grp.data());
  return grp.data();
}


}  // namespace qs
