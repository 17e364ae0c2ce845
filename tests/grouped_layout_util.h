// Shared by the grouped-layout tests (test_q4k_x16.cpp, test_q5_x16.cpp): random quantized matrices
// packed into 16-row groups directly (works on any CPU; repack() needs AVX-512), and the check that
// every packed row dequantizes to the file row's exact floats.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/repack.h"
#include "tensor/quants.h"

namespace qs::test {

struct GroupedMatrix {
  std::vector<uint8_t> file, packed;
  MatView file_view, packed_view;
};

using PackGroupFn = void (*)(const uint8_t* rows, size_t row_stride, int64_t cols, uint8_t* grp);

// Rows of small normal values with a per-row offset (so K-quant mins matter) and one outlier each,
// quantized to `type`, then packed group by group (packed rows packed_row_bytes apart).
inline GroupedMatrix make_grouped(GgmlType type, RowLayout layout, PackGroupFn pack, size_t packed_row_bytes, int64_t rows,
                                  int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  GroupedMatrix m;
  const size_t stride = row_bytes(type, cols);
  m.file.resize(stride * rows);
  std::vector<float> tmp(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float offset = 0.02f * nd(rng);
    for (auto& v : tmp) v = offset + 0.05f * nd(rng);
    tmp[(r * 37) % cols] = 0.8f;
    quantize_row(type, tmp.data(), m.file.data() + r * stride, cols);
  }
  m.file_view = MatView{m.file.data(), type, rows, cols, stride};
  m.packed.resize(packed_row_bytes * rows);
  for (int64_t g = 0; g < rows / 16; ++g) pack(m.file_view.row(16 * g), stride, cols, m.packed.data() + 16 * g * packed_row_bytes);
  m.packed_view = m.file_view;
  m.packed_view.data = m.packed.data();
  m.packed_view.row_stride = packed_row_bytes;
  m.packed_view.layout = layout;
  return m;
}

// Normal values with one large activation.
inline std::vector<float> random_vec(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  x[n / 3] = 6.f;
  return x;
}

// row_to_float on the packed view equals dequantize_row on the file, bit for bit, for every row.
inline void expect_rows_match_file(const GroupedMatrix& m) {
  const int64_t cols = m.file_view.cols;
  std::vector<float> a(cols), b(cols);
  for (int64_t r = 0; r < m.file_view.rows; ++r) {
    dequantize_row(m.file_view.type, m.file_view.row(r), a.data(), cols);
    row_to_float(m.packed_view, r, b.data());
    ASSERT_EQ(a, b) << m.file_view.rows << "x" << cols << " row " << r;
  }
}

}  // namespace qs::test
