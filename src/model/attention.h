// Attention blocks. Both read normed hidden states X [n][n_embd] for tokens at positions
// pos0..pos0+n-1, append their K/V (or MLA latent) to the cache, attend causally over every cached
// position, and write the projected output to out [n][n_embd].
#pragma once
#include "engine/kv_cache.h"
#include "model/config.h"
#include "model/rope.h"
#include "model/weights.h"

namespace qs {

enum class MlaMode {
  Auto,          // absorbed for short batches (decode), decompressed for long prefills
  Absorbed,      // attend in the latent space: q·W_UKᵀ against c_kv, W_UV after the sum
  Decompressed,  // rebuild per-head K/V from the latent, then ordinary multi-head attention
};

// Multi-head latent attention (DeepSeek V2/V3/R1).
void mla_attention(const ModelConfig& c, const LayerWeights& w, const Rope& rope, KvCache& cache, int il,
                   const float* X, int n, int pos0, float* out, MlaMode mode);

// Grouped-query attention with optional q/k/v biases (Qwen2, Llama).
void gqa_attention(const ModelConfig& c, const LayerWeights& w, const Rope& rope, KvCache& cache, int il,
                   const float* X, int n, int pos0, float* out);

}  // namespace qs
