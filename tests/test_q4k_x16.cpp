// The Q4Kx16 layout (Q4_K in 16-row groups): packing loses nothing, its kernels compute what the
// file layout's Q4_K·Q8_K kernels compute, and the matrix products route through them correctly.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "grouped_layout_util.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/matmul_many.h"
#include "kernels/q4k_x16.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {
namespace {

using test::random_vec;
using Q4KMatrix = test::GroupedMatrix;

Q4KMatrix make_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  return test::make_grouped(GgmlType::Q4_K, RowLayout::Q4Kx16, pack_q4kx16_group,
                            kQ4Kx16RowBytesPerBlock * static_cast<size_t>(cols / QK_K), rows, cols, seed);
}

// The file layout's scalar Q4_K·Q8_K product for n tokens (Y[t][r]).
std::vector<float> file_scalar(const MatView& W, const std::vector<uint8_t>& act, size_t ab, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n * W.rows));
  const RowDotFn fn = row_dot_kernel(GgmlType::Q4_K, SimdLevel::Scalar);
  for (int64_t t = 0; t < n; ++t) fn(W.data, W.row_stride, W.rows, act.data() + t * ab, W.cols, y.data() + t * W.rows);
  return y;
}

const int64_t kRows[] = {16, 32, 48};
const int64_t kCols[] = {256, 1536, 2048};

TEST(Q4Kx16, RowToFloatEqualsDequantize) {
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) test::expect_rows_match_file(make_matrix(rows, cols, static_cast<uint32_t>(rows + cols)));
}

// The grouped kernels against the file layout's scalar kernel, 1 to 7 tokens (the 4-, 2- and
// 1-token paths, and one token alone: decode, which reads two groups side by side, so 48 rows are a
// pair and a single group), bit for bit: the same integers and the same float steps per row.
TEST(Q4Kx16, KernelsMatchFileLayout) {
  std::mt19937 rng(5);
  for (int64_t rows : kRows)
    for (int64_t cols : kCols)
      for (int64_t n_tok : {int64_t{1}, int64_t{7}}) {
        const Q4KMatrix m = make_matrix(rows, cols, static_cast<uint32_t>(3 * rows + cols));
        const size_t ab = act_bytes(ActFormat::Q8_K, cols);
        std::vector<uint8_t> act(ab * n_tok);
        for (int64_t t = 0; t < n_tok; ++t) quantize_act(ActFormat::Q8_K, random_vec(cols, rng).data(), act.data() + t * ab, cols);
        const std::vector<float> ref = file_scalar(m.file_view, act, ab, n_tok);
        for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx512}) {
          if (level > detected_simd_level()) continue;
          std::vector<float> out(ref.size());
          q4kx16_gemm_kernel(level)(m.packed.data(), m.packed_view.row_stride, rows, act.data(), ab, n_tok, cols, out.data(), rows);
          for (size_t i = 0; i < ref.size(); ++i)
            ASSERT_EQ(out[i], ref[i]) << simd_level_name(level) << " " << rows << "x" << cols << " n " << n_tok << " at " << i;
        }
      }
}

// The AMX kernel (batches of 12+ tokens: full tiles, a padded tail, or a few leftover tokens on
// VNNI) is bit-identical to the AVX-512 kernel, which the test above ties to the file layout's
// scalar product; out rows are written only where they belong.
TEST(Q4Kx16, AmxEqualsAvx512) {
  const GemmFn amx = q4kx16_gemm_amx();
  if (!amx) GTEST_SKIP() << "AMX-INT8 not usable here";
  std::mt19937 rng(37);
  for (int64_t cols : {int64_t{256}, int64_t{1536}}) {
    const Q4KMatrix m = make_matrix(48, cols, static_cast<uint32_t>(41 + cols));
    const int64_t max_tok = 70;
    const size_t ab = act_bytes(ActFormat::Q8_K, cols) + 40;  // a stride past the minimum
    std::vector<uint8_t> act(ab * max_tok);
    for (int64_t t = 0; t < max_tok; ++t) quantize_act(ActFormat::Q8_K, random_vec(cols, rng).data(), act.data() + t * ab, cols);
    const size_t out_stride = 48 + 5;
    for (int64_t n_tok : {int64_t{1}, int64_t{11}, int64_t{12}, int64_t{16}, int64_t{21}, int64_t{37}, int64_t{70}}) {
      std::vector<float> got(n_tok * out_stride, -1.f), want(got.size(), -1.f);
      amx(m.packed.data(), m.packed_view.row_stride, 48, act.data(), ab, n_tok, cols, got.data(), out_stride);
      q4kx16_gemm_avx512()(m.packed.data(), m.packed_view.row_stride, 48, act.data(), ab, n_tok, cols, want.data(), out_stride);
      ASSERT_EQ(got, want) << "cols " << cols << " tokens " << n_tok;
      for (int64_t t = 0; t < n_tok; ++t) ASSERT_EQ(got[t * out_stride + 48], -1.f);
    }
  }
}

// The AMX kernel folds each 6-bit sub-block scale into two int8 copies of the weights (q·(s mod 8),
// q·(s div 8)): with raw random blocks (every scale and min up to 63, every nibble up to 15) and
// activations at ±127 it still equals the AVX-512 kernel bit for bit.
TEST(Q4Kx16, AmxEqualsAvx512AtExtremeValues) {
  const GemmFn amx = q4kx16_gemm_amx();
  if (!amx) GTEST_SKIP() << "AMX-INT8 not usable here";
  const int64_t rows = 32, cols = 512, n_tok = 40;
  std::mt19937 rng(5);
  std::vector<uint8_t> file(row_bytes(GgmlType::Q4_K, cols) * rows);
  for (auto& b : file) b = static_cast<uint8_t>(rng());
  auto* blocks = reinterpret_cast<block_q4_K*>(file.data());
  for (int64_t i = 0; i < rows * cols / QK_K; ++i) {
    blocks[i].d = 0x2000 + (rng() & 0xFF);  // small positive fp16 factors (the raw bytes may be NaN)
    blocks[i].dmin = 0x1C00 + (rng() & 0xFF);
    if (i % 3 == 0) std::fill(std::begin(blocks[i].scales), std::end(blocks[i].scales), 0xFF);  // all scales/mins 63
    if (i % 5 == 0) std::fill(std::begin(blocks[i].qs), std::end(blocks[i].qs), 0xFF);          // all nibbles 15
  }
  const size_t packed_row = kQ4Kx16RowBytesPerBlock * static_cast<size_t>(cols / QK_K);
  std::vector<uint8_t> packed(packed_row * rows);
  for (int64_t g = 0; g < rows / 16; ++g)
    pack_q4kx16_group(file.data() + 16 * g * row_bytes(GgmlType::Q4_K, cols), row_bytes(GgmlType::Q4_K, cols), cols,
                      packed.data() + 16 * g * packed_row);
  const size_t ab = act_bytes(ActFormat::Q8_K, cols);
  std::vector<uint8_t> act(ab * n_tok);
  for (int64_t t = 0; t < n_tok; ++t) {
    std::vector<float> x(cols);
    for (int64_t i = 0; i < cols; ++i) x[i] = (t + i) % 7 == 0 ? -3.f : 3.f;  // every quant at ±127
    quantize_act(ActFormat::Q8_K, x.data(), act.data() + t * ab, cols);
  }
  std::vector<float> got(n_tok * rows), want(got.size());
  amx(packed.data(), packed_row, rows, act.data(), ab, n_tok, cols, got.data(), rows);
  q4kx16_gemm_avx512()(packed.data(), packed_row, rows, act.data(), ab, n_tok, cols, want.data(), rows);
  EXPECT_EQ(got, want);
}

// repack() chooses the layout on AVX-512 CPUs and produces the same bytes as the group packer.
TEST(Q4Kx16, RepackProducesTheLayout) {
  if (detected_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "repacking needs AVX-512 VNNI";
  const Q4KMatrix m = make_matrix(48, 2048, 9);
  ASSERT_TRUE(repack_worthwhile(m.file_view));
  ASSERT_EQ(repacked_size(m.file_view), m.packed.size());
  std::vector<uint8_t> dst(repacked_size(m.file_view));
  const MatView v = repack(m.file_view, dst.data());
  EXPECT_EQ(v.layout, RowLayout::Q4Kx16);
  EXPECT_EQ(v.type, GgmlType::Q4_K);
  EXPECT_EQ(v.row_stride, m.packed_view.row_stride);
  EXPECT_EQ(dst, m.packed);
  EXPECT_EQ(act_format(v), ActFormat::Q8_K);
  EXPECT_EQ(row_dot_kernel(v), nullptr);  // no per-row kernel reads this layout
  // Rows that do not fill groups, or columns that are not whole blocks, stay in the file layout.
  EXPECT_FALSE(repack_worthwhile(m.file_view.slice_rows(0, 40)));
}

// matvec / matmul on the grouped view, at every SIMD level and batch size: the grouped kernels
// (AMX for batches where usable) give the file layout's exact Q4_K·Q8_K product.
TEST(Q4Kx16, MatmulMatchesFileLayout) {
  std::mt19937 rng(11);
  const Q4KMatrix m = make_matrix(48, 2048, 13);
  const int64_t cols = m.file_view.cols;
  const size_t ab = act_bytes(ActFormat::Q8_K, cols);
  for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512}) {
    if (level > detected_simd_level()) continue;
    set_simd_level(level);
    for (int64_t n : {1, 3, 20, 200}) {
      std::vector<float> X(static_cast<size_t>(n * cols));
      std::vector<uint8_t> act(ab * n);
      for (int64_t t = 0; t < n; ++t) {
        const auto x = random_vec(cols, rng);
        std::copy(x.begin(), x.end(), X.begin() + t * cols);
        quantize_act(ActFormat::Q8_K, x.data(), act.data() + t * ab, cols);
      }
      const std::vector<float> want = file_scalar(m.file_view, act, ab, n);
      std::vector<float> got(want.size());
      matmul(m.packed_view, X.data(), n, got.data());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << simd_level_name(level) << " n " << n << " at " << i;
    }
  }
  set_simd_level(detected_simd_level());
}

// Views sliced at 16-row boundaries (MoE experts inside a stacked tensor) read the right rows.
TEST(Q4Kx16, SlicesAtGroupBoundaries) {
  std::mt19937 rng(17);
  const Q4KMatrix m = make_matrix(48, 2048, 19);
  const auto x = random_vec(2048, rng);
  std::vector<float> full(48);
  matmul(m.packed_view, x.data(), 1, full.data());
  for (int64_t r0 : {0, 16, 32}) {
    const MatView s = m.packed_view.slice_rows(r0, 16);
    std::vector<float> part(16);
    matmul(s, x.data(), 1, part.data());
    for (int r = 0; r < 16; ++r) EXPECT_EQ(part[r], full[r0 + r]) << r0 << " + " << r;
    std::vector<float> a(2048), b(2048);
    row_to_float(s, 5, a.data());
    dequantize_row(GgmlType::Q4_K, m.file_view.row(r0 + 5), b.data(), 2048);
    EXPECT_EQ(a, b) << r0;
  }
}


// MoE decode passes the experts' Q4Kx16 slices through matmul_many: same results as matmul.
TEST(Q4Kx16, MatmulManyMatchesMatmul) {
  std::mt19937 rng(29);
  const Q4KMatrix m = make_matrix(48, 2048, 31);
  for (int64_t n : {1, 3}) {
    std::vector<float> X(static_cast<size_t>(n * 2048));
    for (int64_t t = 0; t < n; ++t) {
      const auto x = random_vec(2048, rng);
      std::copy(x.begin(), x.end(), X.begin() + t * 2048);
    }
    const MatView a = m.packed_view.slice_rows(0, 32), b = m.packed_view.slice_rows(32, 16);
    std::vector<float> wa(n * 32), wb(n * 16), ga(n * 32, NAN), gb(n * 16, NAN);
    matmul(a, X.data(), n, wa.data());
    matmul(b, X.data(), n, wb.data());
    matmul_many({{a, X.data(), n, ga.data()}, {b, X.data(), n, gb.data()}});
    EXPECT_EQ(ga, wa) << n;
    EXPECT_EQ(gb, wb) << n;
  }
}

}  // namespace
}  // namespace qs
