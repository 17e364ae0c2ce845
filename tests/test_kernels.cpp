// Row dot kernels: every SIMD level equals the scalar reference, and the 8-bit activation path
// stays within the rigorous bound of its activation rounding from dequantize-then-multiply.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cache_rows.h"
#include "kernels/cpu_features.h"
#include "kernels/prefetch.h"
#include "kernels/q4k_mla.h"
#include "kernels/qdot.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {
namespace {

struct RowsCase {
  int64_t rows = 7, n = 1024;
  std::vector<uint8_t> w;
  size_t stride = 0;
  std::vector<float> x, wf;  // activations and dequantized weights
};

RowsCase make(GgmlType t, uint32_t seed) {
  RowsCase s;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  s.stride = row_bytes(t, s.n);
  s.w.resize(s.stride * s.rows);
  s.wf.resize(static_cast<size_t>(s.rows * s.n));
  std::vector<float> tmp(s.n);
  for (int64_t r = 0; r < s.rows; ++r) {
    for (auto& v : tmp) v = nd(rng) * 0.05f;
    tmp[r * 13 % s.n] = 0.9f;  // an outlier per row
    quantize_row(t, tmp.data(), s.w.data() + r * s.stride, s.n);
    dequantize_row(t, s.w.data() + r * s.stride, &s.wf[r * s.n], s.n);
  }
  s.x.resize(s.n);
  for (auto& v : s.x) v = nd(rng);
  s.x[5] = 7.f;
  return s;
}

std::vector<float> run(GgmlType t, SimdLevel level, const RowsCase& s) {
  const ActFormat f = act_format(t);
  std::vector<uint8_t> act(act_bytes(f, s.n));
  quantize_act(f, s.x.data(), act.data(), s.n);
  RowDotFn fn = row_dot_kernel(t, level);
  EXPECT_NE(fn, nullptr);
  std::vector<float> out(s.rows);
  fn(s.w.data(), s.stride, s.rows, act.data(), s.n, out.data());
  return out;
}

const GgmlType kTypes[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0,
                           GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q6_K};

TEST(Kernels, SimdEqualsScalar) {
  for (GgmlType t : kTypes) {
    const RowsCase s = make(t, 1 + static_cast<uint32_t>(t));
    const auto ref = run(t, SimdLevel::Scalar, s);
    for (SimdLevel level : {SimdLevel::Avx2, SimdLevel::Avx512}) {
      if (level > detected_simd_level()) continue;
      const auto got = run(t, level, s);
      for (int64_t r = 0; r < s.rows; ++r) {
        double mag = 0;  // Σ|terms| bounds the float rounding of any summation order
        for (int64_t i = 0; i < s.n; ++i) mag += std::fabs(s.wf[r * s.n + i] * s.x[i]);
        EXPECT_NEAR(got[r], ref[r], 1e-5 * mag + 1e-6)
            << traits(t).name << " at " << simd_level_name(level) << " row " << r;
      }
    }
  }
}

// Per weight of a Q4_K case: d·sc_j (its block's scale times its sub-block's) and q.
struct Q4kParts {
  std::vector<float> dsc;
  std::vector<int> q;
};

Q4kParts q4k_parts(const RowsCase& s) {
  Q4kParts p;
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t c = 0; c < s.n; ++c) {
      const auto& b = reinterpret_cast<const block_q4_K*>(s.w.data() + r * s.stride)[c / QK_K];
      const int e = static_cast<int>(c % QK_K), j = e / 32;
      uint8_t sc, m;
      get_scale_min_k4(j, b.scales, sc, m);
      p.dsc.push_back(fp16_to_f32(b.d) * sc);
      const uint8_t byte = b.qs[32 * (e / 64) + e % 32];
      p.q.push_back(j % 2 ? byte >> 4 : byte & 0xF);
    }
  return p;
}

// What rounding activations to 16 bits per 32-column sub-block (the AVX-512 Q4_K kernels, q4k_mla.h)
// may add: at most half a step (0.51 with the float slack) of the sub-block's scale, amax / 32767, per
// weight d·sc_j·q. For the row dot x is rounded (amax over its sub-block); for the weighted sum the
// rows' wts·d·sc_j are (amax over the rows).
double q4k_dot_rounding(const RowsCase& s, const Q4kParts& p, int64_t r) {
  double e = 0;
  for (int64_t c = 0; c < s.n; ++c) {
    float amax = 0;
    for (int64_t i = c / 32 * 32; i < c / 32 * 32 + 32; ++i) amax = std::max(amax, std::fabs(s.x[i]));
    e += std::fabs(p.dsc[r * s.n + c]) * p.q[r * s.n + c] * 0.51 * amax / 32767;
  }
  return e;
}

double q4k_axpy_rounding(const RowsCase& s, const Q4kParts& p, const std::vector<float>& wts, int64_t c) {
  double amax = 0, q = 0;
  for (int64_t r = 0; r < s.rows; ++r) {
    amax = std::max(amax, std::fabs(double{wts[r]} * p.dsc[r * s.n + c]));
    q += p.q[r * s.n + c];
  }
  return q * 0.51 * amax / 32767;
}

// MLA's up-projections and the latent cache's weighted sum take float activations: for the float
// types, Q8_0 and Q4_K, every level's row dot and weighted sum against double sums over the dequantized
// weights (widths cover the 256-column strips and the 32-column tail). Q4_K at AVX-512 rounds them to
// 16 bits and may differ by that rounding's bound besides.
// Cache rows converted to float for the attention tiles: exactly the reference dequantization,
// for each type with an AVX-512 conversion, odd widths (masked tails) included for the 16-bit types.
TEST(Kernels, CacheRowsToFloatEqualTheReferenceDequantization) {
  if (detected_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0})
    for (int64_t n : {32, 80, 576, 37}) {
      if (t == GgmlType::Q8_0 && n % 32) continue;
      ASSERT_NE(rows_to_float_avx512(t), nullptr);
      const int64_t nr = 5;
      const size_t stride = row_bytes(t, n) + 2 * (t != GgmlType::Q8_0);  // rows need not be packed
      std::vector<uint8_t> rows(stride * nr);
      std::vector<float> src(n), want(nr * n), got(nr * n + 3, -7.f);
      for (int64_t r = 0; r < nr; ++r) {
        for (auto& v : src) v = nd(rng) * 3.f;
        quantize_row(t, src.data(), rows.data() + r * stride, n);
        dequantize_row(t, rows.data() + r * stride, &want[r * n], n);
      }
      MatView m;
      m.type = t;
      m.data = rows.data();
      m.rows = nr;
      m.cols = n;
      m.row_stride = stride;
      rows_to_float_st(m, 1, nr - 1, got.data());
      for (int64_t i = 0; i < (nr - 1) * n; ++i) ASSERT_EQ(got[i], want[n + i]) << static_cast<int>(t) << " n " << n << " at " << i;
      for (int64_t i = (nr - 1) * n; i < static_cast<int64_t>(got.size()); ++i) ASSERT_EQ(got[i], -7.f) << "wrote past the rows";
    }
}

TEST(Kernels, FloatActivationKernelsMatchDequantizedWeights) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_K})
    for (int64_t n : {1024, t == GgmlType::Q4_K ? 512 : 544}) {
      RowsCase s = make(t, 40 + static_cast<uint32_t>(n));
      if (n != s.n) {  // the same rows cut to n columns (whole blocks)
        RowsCase c = s;
        c.n = n;
        c.stride = s.stride;
        c.wf.assign(static_cast<size_t>(s.rows * n), 0.f);
        for (int64_t r = 0; r < s.rows; ++r) dequantize_row(t, s.w.data() + r * s.stride, &c.wf[r * n], n);
        c.x.resize(n);
        s = c;
      }
      std::vector<float> wts(s.rows);
      for (int64_t r = 0; r < s.rows; ++r) wts[r] = 0.3f * static_cast<float>(r) - 0.8f;
      for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512}) {
        if (level > detected_simd_level()) continue;
        const FloatDotFn dot = row_dot_f32act_kernel(t, level);
        const RowsAxpyFn axpy = rows_axpy_kernel(t, level);
        ASSERT_NE(dot, nullptr) << traits(t).name;
        ASSERT_NE(axpy, nullptr) << traits(t).name;
        std::vector<float> got(s.rows), sum(static_cast<size_t>(n), 1.f);
        dot(s.w.data(), s.stride, s.rows, s.x.data(), n, got.data(), nullptr);
        axpy(s.w.data(), s.stride, s.rows, wts.data(), n, sum.data(), nullptr);
        const bool i16 = t == GgmlType::Q4_K && level == SimdLevel::Avx512;
        const Q4kParts parts = i16 ? q4k_parts(s) : Q4kParts{};
        for (int64_t r = 0; r < s.rows; ++r) {
          double want = 0, mag = 0;
          for (int64_t i = 0; i < n; ++i) {
            want += double{s.wf[r * n + i]} * s.x[i];
            mag += std::fabs(double{s.wf[r * n + i]} * s.x[i]);
          }
          const double rounding = i16 ? q4k_dot_rounding(s, parts, r) : 0.0;
          EXPECT_NEAR(got[r], want, 1e-6 * mag + 1e-6 + rounding) << traits(t).name << " dot at " << simd_level_name(level) << " n " << n;
        }
        for (int64_t i = 0; i < n; ++i) {
          double want = 1, mag = 1;
          for (int64_t r = 0; r < s.rows; ++r) {
            want += double{wts[r]} * s.wf[r * n + i];
            mag += std::fabs(double{wts[r]} * s.wf[r * n + i]);
          }
          const double rounding = i16 ? q4k_axpy_rounding(s, parts, wts, i) : 0.0;
          ASSERT_NEAR(sum[i], want, 1e-6 * mag + rounding) << traits(t).name << " axpy at " << simd_level_name(level) << " n " << n << " col " << i;
        }
      }
    }
  // Types whose kernels want quantized activations have no float-activation row dot.
  EXPECT_EQ(row_dot_f32act_kernel(GgmlType::Q6_K, SimdLevel::Scalar), nullptr);
  EXPECT_EQ(row_dot_f32act_kernel(GgmlType::Q6_K, detected_simd_level()), nullptr);
}

// The AVX-512 Q4_K kernels with 16-bit activations against their scalar reference (the same 16-bit
// values and integer sums; only the float steps' order differs), on odd and even row counts (rows
// go in pairs) and one and two 256-column blocks.
TEST(Kernels, Q4kInt16KernelsEqualTheirScalarReference) {
  if (detected_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "no AVX-512 VNNI";
  for (int64_t rows : {7, 8, 33})
    for (int64_t n : {256, 512}) {
      std::mt19937 rng(static_cast<uint32_t>(90 + rows + n));
      std::normal_distribution<float> nd(0.f, 1.f);
      std::vector<uint8_t> w(row_bytes(GgmlType::Q4_K, n) * rows);
      std::vector<float> row(n), wts(rows), x(n);
      for (int64_t r = 0; r < rows; ++r) {
        for (auto& v : row) v = nd(rng) * 0.05f;
        quantize_row(GgmlType::Q4_K, row.data(), w.data() + r * row_bytes(GgmlType::Q4_K, n), n);
        wts[r] = nd(rng);
      }
      for (auto& v : x) v = nd(rng);
      x[3] = 9.f;
      const size_t stride = row_bytes(GgmlType::Q4_K, n);
      std::vector<float> dot_ref(rows), dot_got(rows), sum_ref(n, 0.5f), sum_got(n, 0.5f);
      // A prefetch trail (the rows read next) is a hint only: it must not change a result.
      PrefetchTrail trail = trail_of(w.data(), w.size());
      std::vector<float> dot_trail(rows);
      dot_q4_K_x16_scalar(w.data(), stride, rows, x.data(), n, dot_ref.data(), nullptr);
      dot_q4_K_x16_avx512(w.data(), stride, rows, x.data(), n, dot_got.data(), nullptr);
      dot_q4_K_x16_avx512(w.data(), stride, rows, x.data(), n, dot_trail.data(), &trail);
      EXPECT_EQ(dot_trail, dot_got);
      axpy_q4_K_y16_scalar(w.data(), stride, rows, wts.data(), n, sum_ref.data(), nullptr);
      axpy_q4_K_y16_avx512(w.data(), stride, rows, wts.data(), n, sum_got.data(), nullptr);
      std::vector<float> wf(n);
      std::vector<double> col_mag(n, 0.5);
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_row(GgmlType::Q4_K, w.data() + r * stride, wf.data(), n);
        double mag = 0;
        for (int64_t c = 0; c < n; ++c) {
          mag += std::fabs(double{wf[c]} * x[c]);
          col_mag[c] += std::fabs(double{wf[c]} * wts[r]);
        }
        EXPECT_NEAR(dot_got[r], dot_ref[r], 1e-5 * mag + 1e-6) << "dot rows " << rows << " n " << n << " row " << r;
      }
      for (int64_t c = 0; c < n; ++c)
        ASSERT_NEAR(sum_got[c], sum_ref[c], 1e-5 * col_mag[c]) << "axpy rows " << rows << " n " << n << " col " << c;
    }
}

TEST(Kernels, QuantizedActivationsStayWithinRoundingBound) {
  for (GgmlType t : kTypes) {
    const RowsCase s = make(t, 100 + static_cast<uint32_t>(t));
    const auto got = run(t, active_simd_level(), s);
    const ActFormat f = act_format(t);
    const int64_t blk = f == ActFormat::Q8_K ? QK_K : f == ActFormat::Q8_32 ? 32 : 1;
    for (int64_t r = 0; r < s.rows; ++r) {
      double exact = 0, bound = 0, mag = 0;
      for (int64_t b0 = 0; b0 < s.n; b0 += blk) {
        double amax = 0, wabs = 0;
        for (int64_t i = b0; i < b0 + blk; ++i) {
          exact += static_cast<double>(s.wf[r * s.n + i]) * s.x[i];
          mag += std::fabs(s.wf[r * s.n + i] * s.x[i]);
          amax = std::max(amax, static_cast<double>(std::fabs(s.x[i])));
          wabs += std::fabs(s.wf[r * s.n + i]);
        }
        if (f != ActFormat::F32) bound += amax / 254.0 * wabs * 1.0001;  // each x moves at most half a step
      }
      EXPECT_NEAR(got[r], exact, bound + 1e-5 * mag + 1e-6) << traits(t).name << " row " << r;
    }
  }
}

TEST(Kernels, FormatsWithoutKernelsReportNone) {
  for (GgmlType t : {GgmlType::Q4_1, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q5_K}) {
    EXPECT_EQ(act_format(t), ActFormat::None) << traits(t).name;
    EXPECT_EQ(row_dot_kernel(t, SimdLevel::Scalar), nullptr);
  }
}

}  // namespace
}  // namespace qs

#include "kernels/repack.h"

namespace qs {
namespace {

// The repacked Q8_0 layout computes the same integers as the file layout, and decodes to the same
// values, for one token and for several (the batched kernel's 4-, 2- and 1-token paths).
TEST(Kernels, RepackedQ8MatchesFileLayout) {
  for (int64_t cols : {int64_t{2048}, int64_t{1408}, int64_t{96}}) {
    RowsCase s;
    s.n = cols;
    s.rows = 32;
    std::mt19937 rng(7);
    std::normal_distribution<float> nd;
    s.stride = row_bytes(GgmlType::Q8_0, cols);
    s.w.resize(s.stride * s.rows);
    std::vector<float> tmp(cols);
    for (int64_t r = 0; r < s.rows; ++r) {
      for (auto& v : tmp) v = nd(rng);
      quantize_row(GgmlType::Q8_0, tmp.data(), s.w.data() + r * s.stride, cols);
    }
    const MatView file{s.w.data(), GgmlType::Q8_0, s.rows, cols, s.stride};
    if (!repack_worthwhile(file)) GTEST_SKIP() << "the Q8x16 layout needs AVX-512 VNNI (QIUSUO_SIMD lowered the level)";
    std::vector<uint8_t> packed(s.w.size());
    const MatView grouped = repack(file, packed.data());
    ASSERT_EQ(grouped.layout, RowLayout::Q8x16);
    std::vector<float> a(cols), b(cols);
    for (int64_t r = 0; r < s.rows; ++r) {
      row_to_float(file, r, a.data());
      row_to_float(grouped, r, b.data());
      ASSERT_EQ(a, b) << "row " << r;
    }
    const int n_tok = 7;
    std::vector<std::vector<float>> ref(n_tok);
    const size_t ab = act_bytes(ActFormat::Q8_32Split, cols);
    std::vector<uint8_t> act(ab * n_tok);
    for (int t = 0; t < n_tok; ++t) {
      s.x.assign(cols, 0.f);
      for (auto& v : s.x) v = nd(rng);
      ref[t] = run(GgmlType::Q8_0, SimdLevel::Scalar, s);
      quantize_act(ActFormat::Q8_32Split, s.x.data(), act.data() + t * ab, cols);
    }
    for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx512}) {
      if (level > detected_simd_level()) continue;
      std::vector<float> out(static_cast<size_t>(n_tok) * s.rows);
      q8x16_gemm_kernel(level)(grouped.data, grouped.row_stride, grouped.rows, act.data(), ab, n_tok, cols, out.data(), s.rows);
      for (int t = 0; t < n_tok; ++t)
        for (int64_t r = 0; r < s.rows; ++r)
          EXPECT_NEAR(out[t * s.rows + r], ref[t][r], 1e-4 * (1 + std::fabs(ref[t][r])))
              << cols << " " << simd_level_name(level) << " token " << t << " row " << r;
    }
  }
}

}  // namespace
}  // namespace qs

namespace qs {
namespace {

// The SIMD activation quantizers produce the reference's bytes exactly.
TEST(Kernels, ActivationQuantizersMatchScalarExactly) {
  if (detected_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "no AVX-512 here";
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  const int64_t n = 1024;
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng) * 3.f;
  x[7] = -40.f;       // a negative extreme sets Q8_K's scale sign
  x[300] = 0.5f;      // ties and zeros
  for (int i = 512; i < 768; ++i) x[i] = 0.f;  // an all-zero Q8_K block
  for (ActFormat f : {ActFormat::Q8_32, ActFormat::Q8_K, ActFormat::Q8_32Split}) {
    std::vector<uint8_t> simd(act_bytes(f, n)), ref(act_bytes(f, n));
    set_simd_level(SimdLevel::Avx512);
    quantize_act(f, x.data(), simd.data(), n);
    set_simd_level(SimdLevel::Scalar);
    quantize_act(f, x.data(), ref.data(), n);
    set_simd_level(detected_simd_level());
    EXPECT_EQ(simd, ref) << static_cast<int>(f);
  }
}

}  // namespace
}  // namespace qs

namespace qs {
namespace {

// Q4_0 and Q5_0 repack into the Q8x16 groups without changing a single value.
TEST(Kernels, Q4Q5RepackIsExact) {
  if (detected_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "repacking needs AVX-512 VNNI";
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0}) {
    const int64_t rows = 32, cols = 1408;
    std::mt19937 rng(11);
    std::normal_distribution<float> nd;
    const size_t rb = row_bytes(t, cols);
    std::vector<uint8_t> w(rb * rows);
    std::vector<float> tmp(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : tmp) v = nd(rng);
      quantize_row(t, tmp.data(), w.data() + r * rb, cols);
    }
    const MatView file{w.data(), t, rows, cols, rb};
    ASSERT_TRUE(repack_worthwhile(file));
    std::vector<uint8_t> packed(repacked_size(file));
    const MatView grouped = repack(file, packed.data());
    // Q4_0 widens to Q8x16; Q5_0 keeps its bytes in Q5x16 (test_q5_x16.cpp).
    EXPECT_EQ(grouped.type, t == GgmlType::Q4_0 ? GgmlType::Q8_0 : GgmlType::Q5_0);
    EXPECT_EQ(grouped.layout, t == GgmlType::Q4_0 ? RowLayout::Q8x16 : RowLayout::Q5x16);
    std::vector<float> a(cols), b(cols);
    for (int64_t r = 0; r < rows; ++r) {
      row_to_float(file, r, a.data());
      row_to_float(grouped, r, b.data());
      ASSERT_EQ(a, b) << traits(t).name << " row " << r;
    }
  }
}

}  // namespace
}  // namespace qs

#include <cstring>

#include "kernels/matmul.h"

namespace qs {
namespace {

// Random Q8_0 rows repacked into Q8x16 groups, and their values as floats.
struct GroupedCase {
  std::vector<uint8_t> file, packed;
  MatView grouped;
  std::vector<float> wf;
};

GroupedCase make_grouped(int64_t rows, int64_t cols, uint32_t seed) {
  GroupedCase g;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  const size_t stride = row_bytes(GgmlType::Q8_0, cols);
  g.file.resize(stride * rows);
  std::vector<float> tmp(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : tmp) v = nd(rng) * 0.05f;
    tmp[(r * 13) % cols] = 0.9f;
    quantize_row(GgmlType::Q8_0, tmp.data(), g.file.data() + r * stride, cols);
  }
  g.packed.resize(g.file.size());
  g.grouped = repack(MatView{g.file.data(), GgmlType::Q8_0, rows, cols, stride}, g.packed.data());
  g.wf.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) row_to_float(g.grouped, r, &g.wf[r * cols]);
  return g;
}

// The AMX product equals the scalar reference up to float summation order, and the VNNI kernel bit
// for bit (same integers, same float operations in the same order), on every token count the
// tiling treats differently: VNNI-only batches, full tiles, padded tails and VNNI tails.
TEST(KernelsAmx, GemmMatchesScalarAndVnni) {
  const GemmFn amx = q8x16_gemm_amx();
  if (!amx) GTEST_SKIP() << "AMX-INT8 not usable here";
  for (int64_t cols : {int64_t{32}, int64_t{64}, int64_t{2048}, int64_t{1408}}) {
    for (int64_t rows : {int64_t{16}, int64_t{32}, int64_t{48}, int64_t{80}}) {
      const GroupedCase g = make_grouped(rows, cols, static_cast<uint32_t>(cols + rows));
      std::mt19937 rng(static_cast<uint32_t>(cols * rows));
      std::normal_distribution<float> nd;
      const int64_t max_tok = 100;
      const size_t ab = act_bytes(ActFormat::Q8_32Split, cols) + 64;  // strides past the minimum
      const size_t out_stride = static_cast<size_t>(rows) + 3;
      std::vector<uint8_t> act(ab * max_tok);
      std::vector<float> xq(static_cast<size_t>(max_tok * cols));  // the activations as quantized
      std::vector<float> x(cols);
      for (int64_t t = 0; t < max_tok; ++t) {
        for (auto& v : x) v = nd(rng);
        x[(t * 7) % cols] = 6.f;
        uint8_t* a = act.data() + t * ab;
        quantize_act(ActFormat::Q8_32Split, x.data(), a, cols);
        const auto* qs = reinterpret_cast<const int8_t*>(a);
        const auto* d = reinterpret_cast<const float*>(a + cols);
        for (int64_t i = 0; i < cols; ++i) xq[t * cols + i] = d[i / 32] * qs[i];
      }
      for (int64_t n_tok : {int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{33}, int64_t{48}, int64_t{100}}) {
        const size_t out_size = static_cast<size_t>(n_tok) * out_stride;
        std::vector<float> got(out_size, -1.f), ref(out_size, -1.f), vnni(out_size, -1.f);
        amx(g.grouped.data, g.grouped.row_stride, rows, act.data(), ab, n_tok, cols, got.data(), out_stride);
        q8x16_gemm_scalar()(g.grouped.data, g.grouped.row_stride, rows, act.data(), ab, n_tok, cols, ref.data(), out_stride);
        q8x16_gemm_avx512()(g.grouped.data, g.grouped.row_stride, rows, act.data(), ab, n_tok, cols, vnni.data(), out_stride);
        EXPECT_EQ(0, std::memcmp(got.data(), vnni.data(), out_size * sizeof(float)))
            << "differs from VNNI: cols " << cols << " rows " << rows << " tokens " << n_tok;
        for (int64_t t = 0; t < n_tok; ++t)
          for (int64_t r = 0; r < rows; ++r) {
            double mag = 0;
            for (int64_t i = 0; i < cols; ++i) mag += std::fabs(g.wf[r * cols + i] * xq[t * cols + i]);
            ASSERT_NEAR(got[t * out_stride + r], ref[t * out_stride + r], 1e-5 * mag + 1e-6)
                << "cols " << cols << " rows " << rows << " tokens " << n_tok << " token " << t << " row " << r;
          }
        for (int64_t t = 0; t < n_tok; ++t)  // the padding between rows is left alone
          for (size_t r = static_cast<size_t>(rows); r < out_stride; ++r) ASSERT_EQ(got[t * out_stride + r], -1.f);
      }
    }
  }
}

// matmul() on a repacked Q8_0 matrix (the AMX kernel where usable, on both threads' share of the
// groups) stays within the activation rounding bound of the exact float product.
TEST(KernelsAmx, MatmulOnRepackedQ8MatchesFloat) {
  if (active_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "repacking needs AVX-512 VNNI";
  const int64_t rows = 96, cols = 1408, n_tok = 37;
  const GroupedCase g = make_grouped(rows, cols, 5);
  std::mt19937 rng(9);
  std::normal_distribution<float> nd;
  std::vector<float> X(static_cast<size_t>(n_tok * cols)), Y(static_cast<size_t>(n_tok * rows));
  for (auto& v : X) v = nd(rng);
  matmul(g.grouped, X.data(), n_tok, Y.data());
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, bound = 0, mag = 0;
      for (int64_t b0 = 0; b0 < cols; b0 += 32) {
        double amax = 0, wabs = 0;
        for (int64_t i = b0; i < b0 + 32; ++i) {
          const double w = g.wf[r * cols + i], x = X[t * cols + i];
          exact += w * x;
          mag += std::fabs(w * x);
          amax = std::max(amax, std::fabs(x));
          wabs += std::fabs(w);
        }
        bound += amax / 254.0 * wabs * 1.0001;  // each x moves at most half a quantization step
      }
      EXPECT_NEAR(Y[t * rows + r], exact, bound + 1e-5 * mag + 1e-6) << "token " << t << " row " << r;
    }
}

}  // namespace
}  // namespace qs
