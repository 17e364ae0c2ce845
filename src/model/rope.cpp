#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace qs {

std::vector<double> yarn_theta(int dim, double base, double factor, int orig_ctx, double beta_fast, double beta_slow) {
  const double pi = 3.14159265358979323846;
  auto corr_dim = [&](double n_rot) { return dim * std::log(orig_ctx / (n_rot * 2 * pi)) / (2 * std::log(base)); };
  const double low = std::max(std::floor(corr_dim(beta_fast)), 0.0);
  double high = std::min(std::ceil(corr_dim(beta_slow)), static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  std::vector<double> theta(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    const double base_theta = std::pow(base, -2.0 * i / dim);
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    theta[i] = base_theta * (1 - ramp) + (base_theta / factor) * ramp;
  }
  return theta;
}

Rope::Rope(const ModelConfig& c, const std::vector<float>& freq_factors) : n_rot_(c.n_rot), style_(c.rope_style) {
  if (c.rope_scaling == RopeScaling::Yarn && c.rope_factor > 1.f) {
    theta_ = yarn_theta(n_rot_, c.rope_base, c.rope_factor, c.rope_orig_ctx, c.yarn_beta_fast, c.yarn_beta_slow);
  } else {
    theta_.resize(n_rot_ / 2);
    const double scale = c.rope_scaling == RopeScaling::Linear ? 1.0 / c.rope_factor : 1.0;
    for (int i = 0; i < n_rot_ / 2; ++i) theta_[i] = scale * std::pow(static_cast<double>(c.rope_base), -2.0 * i / n_rot_);
  }
  if (!freq_factors.empty()) {
    if (static_cast<int>(freq_factors.size()) != n_rot_ / 2)
      throw std::runtime_error("rope_freqs has " + std::to_string(freq_factors.size()) + " values, expected " + std::to_string(n_rot_ / 2));
    for (int i = 0; i < n_rot_ / 2; ++i) {
      if (!(freq_factors[i] > 0.f)) throw std::invalid_argument("rope_freqs contains a non-positive factor");
      theta_[i] /= freq_factors[i];
    }
  }
}

void Rope::apply(float* x, int pos, int n_heads, size_t stride, RopeStyle style) const {
  const int half = n_rot_ / 2;
  // Pair counts are small (64 rotary dims in DeepSeek, 128 in Llama): on the stack.
  constexpr int kMaxHalf = 256;
  float cs[kMaxHalf], sn[kMaxHalf];
  for (int i0 = 0; i0 < half; i0 += kMaxHalf) {
    const int m = std::min(kMaxHalf, half - i0);
    for (int i = 0; i < m; ++i) {
      const double angle = pos * theta_[i0 + i];
      cs[i] = static_cast<float>(std::cos(angle));
      sn[i] = static_cast<float>(std::sin(angle));
    }
    for (int h = 0; h < n_heads; ++h) {
      float* xh = x + h * stride;
      for (int i = 0; i < m; ++i) {
        const int p = i0 + i;
        float* a = style == RopeStyle::Adjacent ? &xh[2 * p] : &xh[p];
        float* b = style == RopeStyle::Adjacent ? &xh[2 * p + 1] : &xh[p + half];
        const float x0 = *a, x1 = *b;
        *a = x0 * cs[i] - x1 * sn[i];
        *b = x0 * sn[i] + x1 * cs[i];
      }
    }
  }
}

}  // namespace qs
