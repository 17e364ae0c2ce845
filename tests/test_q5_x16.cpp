// The Q5x16 layout (Q5_0 in 16-row groups, in the file's bytes): packing loses nothing, its exact
// Q8x16 conversion gives the file's values, its kernels compute what the Q8x16 kernels compute on
// the widened group (bit for bit at AVX-512), and the products route through them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "grouped_layout_util.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/matmul_many.h"
#include "kernels/q5_x16.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"

namespace qs {
namespace {

using test::random_vec;
using Q5Matrix = test::GroupedMatrix;

// Every high-bit pattern occurs in these rows.
Q5Matrix make_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  return test::make_grouped(GgmlType::Q5_0, RowLayout::Q5x16, pack_q5x16_group, row_bytes(GgmlType::Q5_0, cols), rows, cols, seed);
}

// n tokens' activations in the Q8x16 format, as floats and quantized.
struct Acts {
  std::vector<float> X;
  std::vector<uint8_t> q;
  size_t ab = 0;
};
Acts make_acts(int64_t n, int64_t cols, std::mt19937& rng) {
  Acts a;
  a.ab = act_bytes(ActFormat::Q8_32Split, cols);
  a.q.resize(a.ab * n);
  a.X.resize(static_cast<size_t>(n * cols));
  for (int64_t t = 0; t < n; ++t) {
    const auto x = random_vec(cols, rng);
    std::copy(x.begin(), x.end(), a.X.begin() + t * cols);
    quantize_act(ActFormat::Q8_32Split, x.data(), a.q.data() + t * a.ab, cols);
  }
  return a;
}

// The whole matrix as Q8x16 groups through the conversion.
std::vector<uint8_t> converted(const Q5Matrix& m) {
  const size_t q8_row = row_bytes(GgmlType::Q8_0, m.file_view.cols);
  std::vector<uint8_t> out(q8_row * m.file_view.rows);
  for (int64_t g = 0; g < m.file_view.rows / 16; ++g)
    q5x16_group_to_q8x16(m.packed_view.row(16 * g), m.file_view.cols, out.data() + 16 * g * q8_row);
  return out;
}

const int64_t kRows[] = {16, 48};
const int64_t kCols[] = {32, 1408, 2048};

TEST(Q5x16, RowToFloatEqualsDequantize) {
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) test::expect_rows_match_file(make_matrix(rows, cols, static_cast<uint32_t>(rows + cols)));
}

// The conversion to Q8x16 (scalar and AVX-512) keeps every value: the Q8x16 view of it
// dequantizes to the file's floats.
TEST(Q5x16, ConversionToQ8x16IsExact) {
  for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx512}) {
    if (level > detected_simd_level()) continue;
    set_simd_level(level);
    for (int64_t cols : kCols) {
      const Q5Matrix m = make_matrix(32, cols, static_cast<uint32_t>(7 + cols));
      const std::vector<uint8_t> q8 = converted(m);
      MatView v{q8.data(), GgmlType::Q8_0, 32, cols, row_bytes(GgmlType::Q8_0, cols)};
      v.layout = RowLayout::Q8x16;
      std::vector<float> a(cols), b(cols);
      for (int64_t r = 0; r < 32; ++r) {
        dequantize_row(GgmlType::Q5_0, m.file_view.row(r), a.data(), cols);
        row_to_float(v, r, b.data());
        ASSERT_EQ(a, b) << simd_level_name(level) << " cols " << cols << " row " << r;
      }
    }
  }
  set_simd_level(detected_simd_level());
}

// The grouped kernel against the Q8x16 kernel of the same level on the converted groups, 1 to 7
// tokens (the 4-, 2- and 1-token paths): equal bit for bit at AVX-512 (same integers, same float
// steps), and the scalar references agree the same way.
TEST(Q5x16, KernelsMatchQ8x16OnTheConvertedGroups) {
  std::mt19937 rng(5);
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) {
      const Q5Matrix m = make_matrix(rows, cols, static_cast<uint32_t>(3 * rows + cols));
      const std::vector<uint8_t> q8 = converted(m);
      for (int64_t n_tok = 1; n_tok <= 7; n_tok += 3) {
        const Acts a = make_acts(n_tok, cols, rng);
        for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx512}) {
          if (level > detected_simd_level()) continue;
          const GemmFn q8_fn = level == SimdLevel::Scalar ? q8x16_gemm_scalar() : q8x16_gemm_avx512();
          std::vector<float> want(static_cast<size_t>(n_tok * rows)), got(want.size(), -1.f);
          q8_fn(q8.data(), row_bytes(GgmlType::Q8_0, cols), rows, a.q.data(), a.ab, n_tok, cols, want.data(), rows);
          q5x16_gemm_kernel(level)(m.packed.data(), m.packed_view.row_stride, rows, a.q.data(), a.ab, n_tok, cols, got.data(), rows);
          for (size_t i = 0; i < want.size(); ++i)
            ASSERT_EQ(got[i], want[i]) << simd_level_name(level) << " " << rows << "x" << cols << " n " << n_tok << " at " << i;
        }
      }
    }
}

// The AMX kernel (batches of 12+ tokens: full tiles, a padded tail, or a few leftover tokens on
// VNNI) unpacks the 5-bit values straight into signed tiles: bit-identical to the AVX-512 kernel
// (and so to Q8x16 on the converted groups); out rows are written only where they belong.
TEST(Q5x16, AmxEqualsAvx512) {
  const GemmFn amx = q5x16_gemm_amx();
  if (!amx) GTEST_SKIP() << "AMX-INT8 not usable here";
  std::mt19937 rng(23);
  for (int64_t cols : {int64_t{32}, int64_t{1408}}) {
    const Q5Matrix m = make_matrix(48, cols, static_cast<uint32_t>(5 + cols));
    const size_t out_stride = 48 + 3;
    for (int64_t n_tok : {int64_t{1}, int64_t{11}, int64_t{12}, int64_t{16}, int64_t{21}, int64_t{37}, int64_t{70}}) {
      const Acts a = make_acts(n_tok, cols, rng);
      std::vector<float> got(n_tok * out_stride, -1.f), want(got.size(), -1.f);
      amx(m.packed.data(), m.packed_view.row_stride, 48, a.q.data(), a.ab, n_tok, cols, got.data(), out_stride);
      q5x16_gemm_avx512()(m.packed.data(), m.packed_view.row_stride, 48, a.q.data(), a.ab, n_tok, cols, want.data(), out_stride);
      ASSERT_EQ(got, want) << "cols " << cols << " tokens " << n_tok;
      for (int64_t t = 0; t < n_tok; ++t) ASSERT_EQ(got[t * out_stride + 48], -1.f);
    }
  }
}

// One token (decode) reads two groups side by side: the same bits as one group per call, over an
// odd number of groups (pairs and a single one).
TEST(Q5x16, OneTokenPairsEqualSingleGroups) {
  if (detected_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "needs AVX-512 VNNI";
  std::mt19937 rng(9);
  const int64_t rows = 80, cols = 1408;
  const Q5Matrix m = make_matrix(rows, cols, 17);
  const Acts a = make_acts(1, cols, rng);
  const GemmFn fn = q5x16_gemm_kernel(SimdLevel::Avx512);
  std::vector<float> whole(rows, -1.f), single(rows, -2.f);
  fn(m.packed.data(), m.packed_view.row_stride, rows, a.q.data(), a.ab, 1, cols, whole.data(), rows);
  for (int64_t g = 0; g < rows / 16; ++g)
    fn(m.packed_view.row(16 * g), m.packed_view.row_stride, 16, a.q.data(), a.ab, 1, cols, single.data() + 16 * g, rows);
  EXPECT_EQ(0, std::memcmp(whole.data(), single.data(), rows * sizeof(float)));
}

// repack() picks the layout on AVX-512 CPUs, in the file's size, and the same bytes as the packer.
TEST(Q5x16, RepackProducesTheLayout) {
  if (detected_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "repacking needs AVX-512 VNNI";
  const Q5Matrix m = make_matrix(48, 1408, 9);
  ASSERT_TRUE(repack_worthwhile(m.file_view));
  ASSERT_EQ(repacked_size(m.file_view), m.file.size());
  std::vector<uint8_t> dst(repacked_size(m.file_view));
  const MatView v = repack(m.file_view, dst.data());
  EXPECT_EQ(v.layout, RowLayout::Q5x16);
  EXPECT_EQ(v.type, GgmlType::Q5_0);
  EXPECT_EQ(v.row_stride, m.file_view.row_stride);
  EXPECT_EQ(dst, m.packed);
  EXPECT_EQ(act_format(v), ActFormat::Q8_32Split);
  EXPECT_EQ(row_dot_kernel(v), nullptr);  // no per-row kernel reads this layout
}

// matvec / matmul on the grouped view at every SIMD level, for one token, small batches (the
// layout's kernel) and large ones (converted to Q8x16 groups: AMX where usable), against the scalar
// Q8x16 product of the exactly widened weights (what repacking produced before this layout).
// Expert slices at group boundaries read their rows.
TEST(Q5x16, MatmulMatchesWidenedWeights) {
  std::mt19937 rng(11);
  const Q5Matrix m = make_matrix(48, 1408, 13);
  const int64_t cols = m.file_view.cols, rows = m.file_view.rows;
  const std::vector<uint8_t> q8 = converted(m);
  for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512}) {
    if (level > detected_simd_level()) continue;
    set_simd_level(level);
    for (int64_t n : {1, 3, 11, 12, 40}) {
      const Acts a = make_acts(n, cols, rng);
      std::vector<float> want(static_cast<size_t>(n * rows)), got(want.size());
      q8x16_gemm_scalar()(q8.data(), row_bytes(GgmlType::Q8_0, cols), rows, a.q.data(), a.ab, n, cols, want.data(), rows);
      matmul(m.packed_view, a.X.data(), n, got.data());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 2e-5 * (1 + std::fabs(want[i]))) << simd_level_name(level) << " n " << n << " at " << i;
      const MatView s = m.packed_view.slice_rows(16, 32);
      std::vector<float> part(static_cast<size_t>(n * 32));
      matmul(s, a.X.data(), n, part.data());
      for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < 32; ++r) ASSERT_EQ(part[t * 32 + r], got[t * rows + 16 + r]) << simd_level_name(level) << " slice n " << n;
    }
  }
  set_simd_level(detected_simd_level());
}

// MoE decode passes Q5x16 expert slices through matmul_many: the same results as matmul.
TEST(Q5x16, MatmulManyMatchesMatmul) {
  std::mt19937 rng(29);
  const Q5Matrix m = make_matrix(48, 1408, 31);
  for (int64_t n : {1, 3, 16}) {
    const Acts a = make_acts(n, 1408, rng);
    std::vector<float> want(static_cast<size_t>(n * 48)), got(want.size());
    matmul(m.packed_view, a.X.data(), n, want.data());
    matmul_many({MatmulJob{m.packed_view, a.X.data(), n, got.data()}});
    EXPECT_EQ(got, want) << "n " << n;
  }
}

}  // namespace
}  // namespace qs
