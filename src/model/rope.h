// Rotary position embedding: per-pair frequencies (plain, linear, YaRN, or divided by the
// rope_freqs factors that llama-3 style GGUFs carry) and their application in either pairing.
#pragma once
#include <cstddef>
#include <vector>

#include "model/config.h"

namespace qs {

class Rope {
 public:
  // freq_factors: optional per-pair divisors from a `rope_freqs.weight` tensor (llama3 scaling).
  Rope(const ModelConfig& c, const std::vector<float>& freq_factors = {});
  int dims() const { return n_rot_; }
  const std::vector<double>& theta() const { return theta_; }
  // Rotates the first n_rot values of x (one head) for absolute position pos.
  void apply(float* x, int pos) const { apply(x, pos, 1, 0); }
  // The same for n_heads heads `stride` floats apart: the angles' cos/sin (double precision, the
  // costly part) are evaluated once for all of them.
  void apply(float* x, int pos, int n_heads, size_t stride) const { apply(x, pos, n_heads, stride, style_); }
  // The same angles in another pairing (DeepSeek-V3.2's indexer ropes in halves where MLA uses pairs).
  void apply(float* x, int pos, int n_heads, size_t stride, RopeStyle style) const;

 private:
  int n_rot_;
  RopeStyle style_;
  std::vector<double> theta_;  // per pair i < n_rot/2
};

// YaRN ramp as in DeepSeek's reference: pairs below `low` keep their frequency, above `high`
// are divided by the factor, in between they blend linearly. Exposed for tests.
std::vector<double> yarn_theta(int dim, double base, double factor, int orig_ctx, double beta_fast, double beta_slow);

}  // namespace qs
