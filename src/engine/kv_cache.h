// The per-sequence KV cache. For MLA it holds only the compressed latent: per token and layer,
// [c_kv (after kv_a_norm) | k_pe (after RoPE)] = kv_lora_rank + qk_rope values. For GQA it holds
// K and V rows of n_head_kv heads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace qs {

class KvCache {
 public:
  KvCache(const ModelConfig& c, int n_ctx);
  int capacity() const { return n_ctx_; }
  int row_size() const { return k_row_; }  // floats per token per layer in the K (or latent) part
  float* k(int layer, int pos) { return &k_[offset(layer, pos, k_row_)]; }
  const float* k(int layer, int pos) const { return &k_[offset(layer, pos, k_row_)]; }
  float* v(int layer, int pos) { return &v_[offset(layer, pos, v_row_)]; }
  const float* v(int layer, int pos) const { return &v_[offset(layer, pos, v_row_)]; }
  size_t bytes() const { return (k_.size() + v_.size()) * sizeof(float); }
  // Bytes this cache spends per token over all layers.
  size_t bytes_per_token() const { return static_cast<size_t>(n_layer_) * (k_row_ + v_row_) * sizeof(float); }

 private:
  size_t offset(int layer, int pos, int row) const {
    return (static_cast<size_t>(layer) * n_ctx_ + static_cast<size_t>(pos)) * row;
  }
  int n_layer_;
  int n_ctx_;
  int k_row_;
  int v_row_;
  std::vector<float> k_;
  std::vector<float> v_;
};

// One independent conversation: its cache and how many positions are filled.
struct Sequence {
  Sequence(const ModelConfig& c, int n_ctx) : cache(c, n_ctx) {}
  KvCache cache;
  int n_past = 0;
};

}  // namespace qs
