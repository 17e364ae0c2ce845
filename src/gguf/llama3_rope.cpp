#include "gguf/llama3_rope.h"

#include <cmath>

namespace qs {

std::vector<float> llama3_rope_factors(float rope_theta, int64_t head_dim, const Llama3RopeScaling& s) {
  constexpr float kPi = 3.14159265358979323846f;
  const float lo_wavelen = static_cast<float>(s.original_context) / s.low_freq_factor;
  const float hi_wavelen = static_cast<float>(s.original_context) / s.high_freq_factor;
  std::vector<float> out(static_cast<size_t>(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const float freq = 1.0f / std::pow(rope_theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));
    const float wavelen = 2 * kPi / freq;
    float f;
    if (wavelen < hi_wavelen) {
      f = 1.f;
    } else if (wavelen > lo_wavelen) {
      f = s.factor;
    } else {
      const float smooth = (static_cast<float>(s.original_context) / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = 1.f / ((1 - smooth) / s.factor + smooth);
    }
    out[static_cast<size_t>(i)] = f;
  }
  return out;
}

}  // namespace qs
