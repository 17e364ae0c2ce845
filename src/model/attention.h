// Attention blocks. Both read normed hidden states X [n][n_embd] of a batch that may mix several
// sequences (spans of consecutive tokens, each continuing its own cache from pos0), append their K/V
// (or MLA latent) to the right cache, attend causally over that sequence's cached positions, and
// write the projected output to out [n][n_embd]. Projections run once over the whole batch.
#pragma once
#include <vector>

#include "model/kv_cache.h"
#include "model/config.h"
#include "model/rope.h"
#include "model/weights.h"

namespace qs {

enum class MlaMode {
  Auto,          // absorbed for short batches (decode), decompressed for long prefills
  Absorbed,      // attend in the latent space: q·W_UKᵀ against c_kv, W_UV after the sum
  Decompressed,  // rebuild per-head K/V from the latent, then ordinary multi-head attention
};

// Tokens [start, start + count) of a batch: one sequence's next positions pos0, pos0 + 1, ...
struct SeqSpan {
  KvCache* cache;
  int pos0;
  int start;
  int count;
};

// Multi-head latent attention (DeepSeek V2/V3/R1).
void mla_attention(const ModelConfig& c, const LayerWeights& w, const Rope& rope, const std::vector<SeqSpan>& spans,
                   int il, const float* X, int n, float* out, MlaMode mode);

// Grouped-query attention with optional q/k/v biases (Qwen2, Llama).
void gqa_attention(const ModelConfig& c, const LayerWeights& w, const Rope& rope, const std::vector<SeqSpan>& spans,
                   int il, const float* X, int n, float* out);

}  // namespace qs
