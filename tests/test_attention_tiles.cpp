// Blocked attention tiles: the AVX-512 products equal the scalar reference, and folding key chunks
// through the online softmax equals plain causal softmax attention computed in double.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention_tiles.h"

namespace qs {
namespace {

std::vector<float> randn(size_t n, std::mt19937& rng, float sd = 1.f) {
  std::normal_distribution<float> nd(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0, scale = 1e-6;
  for (float x : b) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst / scale;
}

TEST(AttentionTiles, SimdEqualsScalar) {
  if (detected_simd_level() < SimdLevel::Avx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(7);
  // Odd sizes on purpose: partial query groups, key tails under 16 and between 16 and 32, dv tails.
  for (int nq : {1, 3, 4, 5, 16})
    for (int ns : {1, 15, 17, 31, 32, 45, 256})
      for (int dk : {1, 7, 192})
        for (int dv : {1, 20, 64, 128, 130}) {
          const size_t q_stride = dk + 3, kt_stride = ns + 5, s_stride = ns + 2, v_stride = dv + 1, o_stride = dv + 4;
          const auto Q = randn(nq * q_stride, rng), Kt = randn(dk * kt_stride, rng), V = randn(ns * v_stride, rng);
          std::vector<float> s_ref(nq * s_stride, -1.f), s_simd = s_ref;
          scores_tile_kernel(SimdLevel::Scalar)(Q.data(), q_stride, nq, Kt.data(), kt_stride, ns, dk, 0.125f, s_ref.data(), s_stride);
          scores_tile_avx512()(Q.data(), q_stride, nq, Kt.data(), kt_stride, ns, dk, 0.125f, s_simd.data(), s_stride);
          EXPECT_LT(max_rel_diff(s_simd, s_ref), 1e-5) << nq << "x" << ns << " dk " << dk;
          for (int i = 0; i < nq; ++i)  // nothing past ns in a row is touched
            for (size_t j = ns; j < s_stride; ++j) EXPECT_EQ(s_simd[static_cast<size_t>(i) * s_stride + j], -1.f);
          const auto P = randn(nq * s_stride, rng);
          auto o_ref = randn(nq * o_stride, rng), o_simd = o_ref;
          pv_tile_kernel(SimdLevel::Scalar)(P.data(), s_stride, nq, V.data(), v_stride, ns, dv, o_ref.data(), o_stride);
          pv_tile_avx512()(P.data(), s_stride, nq, V.data(), v_stride, ns, dv, o_simd.data(), o_stride);
          EXPECT_LT(max_rel_diff(o_simd, o_ref), 1e-5) << nq << "x" << ns << " dv " << dv;
        }
}

// Causal attention of nq queries at positions q_pos0.. over keys 0..q_pos0+nq-1, in double.
std::vector<double> reference(const std::vector<float>& Q, const std::vector<float>& K, const std::vector<float>& V,
                              int nq, int q_pos0, int dk, int dv, float scale) {
  std::vector<double> out(static_cast<size_t>(nq) * dv, 0.0);
  for (int i = 0; i < nq; ++i) {
    const int vis = q_pos0 + i + 1;
    std::vector<double> s(vis);
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < vis; ++j) {
      double acc = 0;
      for (int d = 0; d < dk; ++d) acc += static_cast<double>(Q[i * dk + d]) * K[j * dk + d];
      s[j] = scale * acc;
      mx = std::max(mx, s[j]);
    }
    for (int j = 0; j < vis; ++j) sum += (s[j] = std::exp(s[j] - mx));
    for (int j = 0; j < vis; ++j)
      for (int c = 0; c < dv; ++c) out[i * dv + c] += s[j] / sum * V[j * dv + c];
  }
  return out;
}

TEST(AttentionTiles, ChunkedOnlineSoftmaxEqualsCausalAttention) {
  std::mt19937 rng(11);
  const int dk = 40, dv = 24, nq = 21, q_pos0 = 50, n_kv = q_pos0 + nq;
  const float scale = 0.3f;
  // Large scores so the running max really moves between chunks.
  const auto Q = randn(nq * dk, rng, 2.f), K = randn(n_kv * dk, rng, 2.f), V = randn(n_kv * dv, rng);
  const auto want = reference(Q, K, V, nq, q_pos0, dk, dv, scale);
  for (SimdLevel level : {SimdLevel::Scalar, detected_simd_level()}) {
    set_simd_level(level);
    for (int chunk : {1, 7, 16, 64, 200}) {
      std::vector<float> O(static_cast<size_t>(nq) * dv, 0.f), m(nq, -INFINITY), l(nq, 0.f), scratch(nq * chunk);
      const OnlineSoftmax st{O.data(), static_cast<size_t>(dv), m.data(), l.data()};
      for (int s0 = 0; s0 < n_kv; s0 += chunk) {
        const int ns = std::min(chunk, n_kv - s0);
        std::vector<float> Kt(static_cast<size_t>(dk) * ns);
        for (int j = 0; j < ns; ++j)
          for (int d = 0; d < dk; ++d) Kt[d * ns + j] = K[(s0 + j) * dk + d];
        attend_tile(Q.data(), dk, nq, q_pos0, Kt.data(), ns, &V[static_cast<size_t>(s0) * dv], dv, ns, s0, dk, dv,
                    scale, st, scratch.data());
      }
      finish_online_softmax(st, nq, dv);
      double worst = 0;
      for (size_t i = 0; i < O.size(); ++i) worst = std::max(worst, std::fabs(O[i] - want[i]));
      EXPECT_LT(worst, 2e-5) << "chunk " << chunk << " level " << simd_level_name(level);
    }
  }
  set_simd_level(detected_simd_level());
}

}  // namespace
}  // namespace qs
