#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace qs {

int32_t argmax(const float* logits, int n) {
  return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

Sampler::Sampler(SamplingParams p) : p_(p), rng_(p.seed) {
  if (!(p_.temperature >= 0.f) || !std::isfinite(p_.temperature)) throw std::invalid_argument("temperature must be >= 0");
  if (!(p_.top_p > 0.f && p_.top_p <= 1.f)) throw std::invalid_argument("top_p must be in (0, 1]");
  if (!(p_.min_p >= 0.f && p_.min_p <= 1.f)) throw std::invalid_argument("min_p must be in [0, 1]");
  if (p_.top_k < 0) throw std::invalid_argument("top_k must be >= 0");
  if (!(p_.repeat_penalty > 0.f)) throw std::invalid_argument("repeat_penalty must be > 0");
}

int32_t Sampler::sample(float* logits, int n_vocab, const std::vector<int32_t>& history) {
  // Penalties look at the last penalty_last_n tokens.
  if (p_.repeat_penalty != 1.f || p_.presence_penalty != 0.f || p_.frequency_penalty != 0.f) {
    std::unordered_map<int32_t, int> counts;
    const size_t start = p_.penalty_last_n > 0 && history.size() > static_cast<size_t>(p_.penalty_last_n)
                             ? history.size() - p_.penalty_last_n : 0;
    for (size_t i = start; i < history.size(); ++i) counts[history[i]]++;
    for (const auto& [tok, cnt] : counts) {
      if (tok < 0 || tok >= n_vocab) continue;
      float& l = logits[tok];
      if (p_.repeat_penalty != 1.f) l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= p_.presence_penalty + p_.frequency_penalty * static_cast<float>(cnt);
    }
  }
  if (p_.temperature == 0.f || p_.top_k == 1) return argmax(logits, n_vocab);

  // Candidates sorted by logit, cut by top-k, then probabilities at the temperature.
  std::vector<int32_t> idx(n_vocab);
  std::iota(idx.begin(), idx.end(), 0);
  int keep = p_.top_k > 0 ? std::min(p_.top_k, n_vocab) : n_vocab;
  std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  idx.resize(keep);
  std::vector<double> prob(keep);
  const double mx = logits[idx[0]];
  double sum = 0;
  for (int i = 0; i < keep; ++i) sum += prob[i] = std::exp((logits[idx[i]] - mx) / p_.temperature);
  for (double& x : prob) x /= sum;

  // min-p: drop candidates below min_p × the top probability.
  if (p_.min_p > 0.f) {
    int k = 1;
    while (k < keep && prob[k] >= p_.min_p * prob[0]) ++k;
    keep = k;
  }
  // top-p: smallest prefix whose mass reaches top_p.
  if (p_.top_p < 1.f) {
    double cum = 0;
    int k = 0;
    while (k < keep) {
      cum += prob[k++];
      if (cum >= p_.top_p) break;
    }
    keep = k;
  }
  double total = 0;
  for (int i = 0; i < keep; ++i) total += prob[i];
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_);
  for (int i = 0; i < keep; ++i) {
    r -= prob[i];
    if (r <= 0) return idx[i];
  }
  return idx[keep - 1];
}

}  // namespace qs
