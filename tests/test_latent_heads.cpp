// Latent attention with heads in the lanes: folding chunks of cache rows through the kernel's online
// softmax equals softmax attention over all rows computed in double, per head and lane, for the
// scalar reference and the AVX-512 kernel, with odd row counts (every tail block) and odd widths.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/latent_heads.h"

namespace qs {
namespace {

constexpr int L = kLatentLanes;

TEST(LatentHeads, ChunkedFoldEqualsSoftmaxAttentionPerLane) {
  std::mt19937 rng(21);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (SimdLevel level : {SimdLevel::Scalar, detected_simd_level()})
    for (int dc : {512, 64, 29})
      for (int rows : {1, 7, 128, 301}) {
        const int dr = dc == 512 ? 64 : 5, dk = dc + dr;
        const size_t k_stride = dk + 3;
        const float scale = 0.15f;
        std::vector<float> qT(static_cast<size_t>(dk) * L), K(rows * k_stride);
        // Large scores, so the running max moves from chunk to chunk.
        for (auto& x : qT) x = 2.f * nd(rng);
        for (auto& x : K) x = nd(rng);
        std::vector<float> m(L, -INFINITY), l(L, 0.f), oT(static_cast<size_t>(dc) * L, 0.f), scratch(128 * L);
        const LatentChunkFn fold = latent_chunk_kernel(level);
        for (int s0 = 0; s0 < rows; s0 += 128)
          fold(qT.data(), dk, &K[s0 * k_stride], k_stride, std::min(128, rows - s0), dc, scale, scratch.data(),
               {m.data(), l.data(), oT.data()}, nullptr);
        for (int i = 0; i < L; ++i) {
          std::vector<double> s(rows);
          double mx = -INFINITY, sum = 0;
          for (int j = 0; j < rows; ++j) {
            double acc = 0;
            for (int d = 0; d < dk; ++d) acc += static_cast<double>(qT[d * L + i]) * K[j * k_stride + d];
            mx = std::max(mx, s[j] = scale * acc);
          }
          for (int j = 0; j < rows; ++j) sum += (s[j] = std::exp(s[j] - mx));
          EXPECT_NEAR(m[i], mx, 1e-4 * std::fabs(mx) + 1e-5);
          EXPECT_NEAR(l[i], sum, 1e-4 * sum) << "lane " << i;
          for (int d = 0; d < dc; ++d) {
            double want = 0;
            for (int j = 0; j < rows; ++j) want += s[j] / sum * K[j * k_stride + d];
            ASSERT_NEAR(oT[d * L + i] / l[i], want, 2e-4) << "level " << static_cast<int>(level) << " dc " << dc << " rows "
                                                          << rows << " lane " << i << " column " << d;
          }
        }
      }
}

// Lanes past the group's heads hold zero queries: their scores are 0, nothing is NaN, and the
// real lanes do not depend on them.
TEST(LatentHeads, EmptyLanesStayFiniteAndApart) {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int dc = 64, dk = 80, rows = 40;
  std::vector<float> qT(dk * L, 0.f), K(rows * dk);
  for (int d = 0; d < dk; ++d)
    for (int i = 0; i < 3; ++i) qT[d * L + i] = nd(rng);
  for (auto& x : K) x = nd(rng);
  for (SimdLevel level : {SimdLevel::Scalar, detected_simd_level()}) {
    std::vector<float> m(L, -INFINITY), l(L, 0.f), oT(dc * L, 0.f), scratch(rows * L);
    latent_chunk_kernel(level)(qT.data(), dk, K.data(), dk, rows, dc, 0.2f, scratch.data(), {m.data(), l.data(), oT.data()}, nullptr);
    for (int i = 0; i < L; ++i) {
      ASSERT_TRUE(std::isfinite(m[i]) && std::isfinite(l[i])) << i;
      if (i >= 3) {
        EXPECT_EQ(m[i], 0.f);
      }
      for (int d = 0; d < dc; ++d) ASSERT_TRUE(std::isfinite(oT[d * L + i]));
    }
  }
}

}  // namespace
}  // namespace qs
