#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "kernels/argmax.h"

namespace qs {

int32_t argmax(const float* logits, int n) { return static_cast<int32_t>(argmax_f32(logits, n)); }

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

  // Candidates: every id, or the top-k found in linear time.
  std::vector<int32_t> idx(n_vocab);
  std::iota(idx.begin(), idx.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  if (p_.top_k > 0 && p_.top_k < n_vocab) {
    std::nth_element(idx.begin(), idx.begin() + p_.top_k, idx.end(), by_logit);
    idx.resize(p_.top_k);
  }
  // Unnormalised probabilities at the temperature.
  float mx = -INFINITY;
  for (int32_t i : idx) mx = std::max(mx, logits[i]);
  std::vector<double> w(idx.size());
  double total = 0;
  for (size_t i = 0; i < idx.size(); ++i) total += w[i] = std::exp((logits[idx[i]] - mx) / p_.temperature);

  // min-p: drop candidates below min_p × the top probability (the top one has weight 1).
  if (p_.min_p > 0.f) {
    size_t k = 0;
    total = 0;
    for (size_t i = 0; i < idx.size(); ++i)
      if (w[i] >= p_.min_p) idx[k] = idx[i], w[k] = w[i], total += w[k++];
    idx.resize(k);
    w.resize(k);
  }
  // top-p: the smallest most-probable set whose mass reaches top_p. Only the set matters, not its
  // order, so find the cut with a histogram of log-probabilities (linear time even for the flat
  // distributions of untrained models) and sort only the bucket where the cut falls.
  if (p_.top_p < 1.f && idx.size() > 1) {
    constexpr int kBuckets = 1024;
    constexpr double kRange = 32.0;  // nats below the top; anything further shares the last bucket
    auto bucket = [&](double wi) {
      const double nats = -std::log(std::max(wi, 1e-300));
      return std::min(kBuckets - 1, static_cast<int>(nats * (kBuckets / kRange)));
    };
    std::vector<double> mass(kBuckets, 0.0);
    for (double wi : w) mass[bucket(wi)] += wi;
    const double target = p_.top_p * total;
    double cum = 0;
    int cut = 0;
    while (cut < kBuckets - 1 && cum + mass[cut] < target) cum += mass[cut++];
    std::vector<int32_t> keep_idx;
    std::vector<double> keep_w;
    std::vector<size_t> edge;  // members of the cut bucket
    for (size_t i = 0; i < idx.size(); ++i) {
      const int b = bucket(w[i]);
      if (b < cut) keep_idx.push_back(idx[i]), keep_w.push_back(w[i]);
      else if (b == cut) edge.push_back(i);
    }
    std::sort(edge.begin(), edge.end(), [&](size_t a, size_t b) { return w[a] > w[b] || (w[a] == w[b] && idx[a] < idx[b]); });
    for (size_t e : edge) {
      if (cum >= target && !keep_idx.empty()) break;
      keep_idx.push_back(idx[e]);
      keep_w.push_back(w[e]);
      cum += w[e];
    }
    idx.swap(keep_idx);
    w.swap(keep_w);
    total = 0;
    for (double wi : w) total += wi;
  }
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_);
  for (size_t i = 0; i < idx.size(); ++i) {
    r -= w[i];
    if (r <= 0) return idx[i];
  }
  return idx.back();
}

}  // namespace qs
