// Feed-forward blocks: the dense SwiGLU MLP and DeepSeekMoE (routed + shared experts).
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/weights.h"

namespace qs {

// The routing decision for one token: chosen experts and their output weights.
struct ExpertChoice {
  std::vector<int> experts;
  std::vector<float> weights;
};

// DeepSeek routing from the router logits of one token: softmax or sigmoid scores, selection on
// score + bias (bias only selects), group-limited top-k when groups > 1, optional normalisation,
// then the routed scale.
ExpertChoice route_token(const ModelConfig& c, const float* logits, const std::vector<float>& bias);

void dense_ffn(const MatView& gate, const MatView& up, const MatView& down, const float* X, int n, float* out);
void moe_ffn(const ModelConfig& c, const LayerWeights& w, const float* X, int n, float* out);

}  // namespace qs
