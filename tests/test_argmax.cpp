// Greedy argmax: every SIMD level agrees with a plain scan (first largest, NaN skipped) on lengths
// around the vector width, ties, infinities and NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/sampler.h"
#include "kernels/argmax.h"

namespace qs {
namespace {

// The contract spelled out: the lowest index of the largest non-NaN value, 0 if there is none.
int64_t reference(const std::vector<float>& x) {
  int64_t best = -1;
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isnan(x[i]) && (best < 0 || x[i] > x[static_cast<size_t>(best)])) best = static_cast<int64_t>(i);
  return best < 0 ? 0 : best;
}

void expect_all_levels(const std::vector<float>& x, const char* what) {
  for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512}) {
    if (level > detected_simd_level()) continue;
    EXPECT_EQ(argmax_kernel(level)(x.data(), static_cast<int64_t>(x.size())), reference(x))
        << what << " n " << x.size() << " at " << simd_level_name(level);
  }
}

TEST(Argmax, MatchesAScanAtEveryLength) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  for (int n = 1; n <= 70; ++n)
    for (int rep = 0; rep < 4; ++rep) {
      std::vector<float> x(n);
      for (auto& v : x) v = nd(rng);
      x[rng() % n] = 9.f;  // the maximum anywhere, tail lanes included
      expect_all_levels(x, "random");
    }
}

TEST(Argmax, TiesGoToTheFirst) {
  std::vector<float> x(129, 1.f);
  expect_all_levels(x, "all equal");
  x[40] = x[100] = x[17] = 5.f;
  expect_all_levels(x, "three maxima");
  EXPECT_EQ(argmax(x.data(), 129), 17);
}

TEST(Argmax, SkipsNaNAndHandlesInfinities) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(50, -inf);
  expect_all_levels(x, "all -inf");
  x[0] = nan;
  x[33] = nan;
  expect_all_levels(x, "NaN and -inf");
  EXPECT_EQ(argmax(x.data(), 50), 1);
  x[20] = 3.f;
  x[45] = inf;
  expect_all_levels(x, "NaN, finite, +inf");
  EXPECT_EQ(argmax(x.data(), 50), 45);
  std::vector<float> all_nan(37, nan);
  expect_all_levels(all_nan, "all NaN");
  EXPECT_EQ(argmax(all_nan.data(), 37), 0);
  EXPECT_EQ(argmax_f32(x.data(), 0), 0);
}

// A vocabulary-sized row (V3: 129,280), the maximum in the last, partial vector.
TEST(Argmax, VocabularySized) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> ud(-20.f, 20.f);
  std::vector<float> x(129280);
  for (auto& v : x) v = ud(rng);
  x[129279] = 30.f;
  expect_all_levels(x, "vocabulary");
  x[5] = 30.f;
  expect_all_levels(x, "vocabulary, tie");
}

}  // namespace
}  // namespace qs
