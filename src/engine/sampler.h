// Token sampling: penalties, temperature, top-k, top-p, min-p, and a seeded RNG. temperature 0
// (or top_k 1) is greedy.
#pragma once
#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace qs {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 0;          // 0: off
  float top_p = 1.0f;     // 1: off
  float min_p = 0.0f;     // 0: off
  float repeat_penalty = 1.0f;     // llama.cpp style: divide positive logits, multiply negative
  float presence_penalty = 0.0f;   // OpenAI style
  float frequency_penalty = 0.0f;
  int penalty_last_n = 64;
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams p);
  // Picks a token from the logits (modified in place by penalties) given the tokens so far.
  int32_t sample(float* logits, int n_vocab, const std::vector<int32_t>& history);
  const SamplingParams& params() const { return p_; }

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
};

// Greedy pick: the first largest logit, NaN skipped (kernels/argmax.h).
int32_t argmax(const float* logits, int n);

}  // namespace qs
