// The AVX-512 exp kernels against their std::exp scalar references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "kernels/vec_exp.h"

namespace qs {
namespace {

// |a − b| within `ulps` float ulps of b, or both below the smallest normal (denormal results are
// rounded twice by the scaled polynomial, and are 0 to within 1e-38 either way).
::testing::AssertionResult near_ulps(float a, float b, float ulps) {
  if (std::isinf(b) || std::isnan(b)) {
    if (a == b || (std::isnan(a) && std::isnan(b))) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << a << " vs " << b;
  }
  const float tol = ulps * std::numeric_limits<float>::epsilon() * std::fabs(b) + std::numeric_limits<float>::min();
  if (std::fabs(a - b) <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << a << " vs " << b << " (" << std::fabs(a - b) / std::fabs(b) / 1.1920929e-7f
                                       << " ulps)";
}

bool have_avx512() { return detected_simd_level() >= SimdLevel::Avx512; }

TEST(VecExp, ExpMatchesStdExpAcrossTheFloatRange) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::vector<float> x;
  for (float v = -110.f; v <= 95.f; v += 0.0137f) x.push_back(v);
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 88.72f, 88.73f, 89.f, 1e30f, -87.33f, -103.9f, -1e30f,
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()})
    x.push_back(v);
  std::vector<float> got = x, want = x;
  // Odd lengths too: the masked tail must compute and store exactly its own lanes.
  for (int64_t len : {static_cast<int64_t>(x.size()), int64_t{1}, int64_t{15}, int64_t{17}}) {
    got = x, want = x;
    exp_shift_sum_kernel(SimdLevel::Avx512)(got.data(), len, 0.f);
    exp_shift_sum_kernel(SimdLevel::Scalar)(want.data(), len, 0.f);
    for (int64_t i = 0; i < len; ++i) ASSERT_TRUE(near_ulps(got[i], want[i], 3.f)) << "x = " << x[i];
    for (size_t i = static_cast<size_t>(len); i < x.size(); ++i) ASSERT_EQ(got[i], x[i]) << "past the end, i = " << i;
  }
}

TEST(VecExp, ShiftedExpAndItsSumMatchTheReference) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(7);
  std::normal_distribution<float> score(0.f, 4.f);
  for (int n : {1, 5, 16, 31, 256, 1000}) {
    std::vector<float> p(n);
    for (float& v : p) v = score(rng);
    float mx = p[0];
    for (float v : p) mx = std::max(mx, v);
    std::vector<float> a = p, b = p;
    const float sa = exp_shift_sum_kernel(SimdLevel::Avx512)(a.data(), n, mx);
    const float sb = exp_shift_sum_kernel(SimdLevel::Scalar)(b.data(), n, mx);
    for (int i = 0; i < n; ++i) ASSERT_TRUE(near_ulps(a[i], b[i], 3.f)) << "n = " << n << ", i = " << i;
    // Sums of n positive terms in different orders: each rounds to within n/2 ulps of the true sum.
    EXPECT_TRUE(near_ulps(sa, sb, 4.f + n)) << "n = " << n;
    EXPECT_GE(sb, 1.f);  // the maximum contributes exp(0) = 1
  }
}

TEST(VecExp, SwigluMatchesTheReference) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(11);
  std::normal_distribution<float> act(0.f, 3.f);
  for (int n : {1, 7, 16, 33, 1408}) {
    std::vector<float> g(n), u(n);
    for (int i = 0; i < n; ++i) g[i] = act(rng), u[i] = act(rng);
    g[0] = n > 1 ? -100.f : 120.f;  // saturated ends: silu → 0 (exp overflows to inf) and silu(x) → x
    std::vector<float> a = g, b = g;
    swiglu_kernel(SimdLevel::Avx512)(a.data(), u.data(), n);
    swiglu_kernel(SimdLevel::Scalar)(b.data(), u.data(), n);
    for (int i = 0; i < n; ++i) ASSERT_TRUE(near_ulps(a[i], b[i], 4.f)) << "n = " << n << ", g = " << g[i];
  }
  // The scalar reference is the textbook formula.
  std::vector<float> g{2.f}, u{3.f};
  swiglu_kernel(SimdLevel::Scalar)(g.data(), u.data(), 1);
  EXPECT_FLOAT_EQ(g[0], 2.f / (1.f + std::exp(-2.f)) * 3.f);
}

}  // namespace
}  // namespace qs
