// The per-sequence KV cache. For MLA it holds only the compressed latent: per token and layer one
// row [c_kv (after kv_a_norm) | k_pe (after RoPE)] of kv_lora_rank + qk_rope values (576 for V3),
// and no V. For GQA it holds K and V rows of n_head_kv heads. Rows are stored in 16 bits by default
// (F16; BF16, Q8_0 and F32 on request) and read through the same kernels as weights. A model with
// the DSA indexer (deepseek32) also keeps one indexer key of idx_head_dim values per token and
// layer: what its top-k selection scores instead of the whole latent. Those keys stay in 16 bits
// under an 8-bit latent (index_type_for): the selection flips on score changes that small (an 8-bit
// key moved the V3.2 fixture's logits 0.05 RMS off the golden, F16 keys 0.0003).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "tensor/ggml_type.h"
#include "tensor/mat_view.h"

namespace qs {

class KvCache {
 public:
  KvCache(const ModelConfig& c, int n_ctx, GgmlType type = GgmlType::F16);
  GgmlType type() const { return type_; }
  GgmlType index_type() const { return i_type_; }
  static GgmlType index_type_for(GgmlType latent) { return latent == GgmlType::Q8_0 ? GgmlType::F16 : latent; }
  int capacity() const { return n_ctx_; }
  int k_row() const { return k_row_; }  // elements per token per layer
  int v_row() const { return v_row_; }
  int index_row() const { return i_row_; }  // indexer key width (0 without an indexer)

  void store_k(int layer, int pos, const float* row);
  void store_v(int layer, int pos, const float* row);
  void store_index_key(int layer, int pos, const float* row);
  // Positions [0, n) of a layer as a matrix whose rows are elements [col0, col0 + cols) of each
  // cached row (col0 must sit on a block boundary of the cache type).
  MatView k_view(int layer, int n, int col0, int cols) const { return view(k_, k_row_, layer, n, col0, cols); }
  MatView v_view(int layer, int n, int col0, int cols) const { return view(v_, v_row_, layer, n, col0, cols); }
  MatView index_view(int layer, int n) const;
  void load_k(int layer, int pos, float* out) const;  // one whole row, as floats
  // Copies positions [src_pos, src_pos + n) of every layer from a cache of the same model and type
  // into positions [dst_pos, dst_pos + n) of this one (the server's prefix cache). Throws
  // std::invalid_argument on a shape/type mismatch, std::out_of_range outside either capacity.
  void copy_positions(const KvCache& src, int src_pos, int dst_pos, int n);

  size_t bytes() const { return k_.size() + v_.size() + i_.size(); }
  size_t bytes_per_token_layer() const {
    return row_bytes(type_, k_row_) + (v_row_ ? row_bytes(type_, v_row_) : 0) + (i_row_ ? row_bytes(i_type_, i_row_) : 0);
  }
  size_t bytes_per_token() const { return static_cast<size_t>(n_layer_) * bytes_per_token_layer(); }

  // What one token costs across all layers, without building a cache (memory planning).
  static size_t bytes_per_token(const ModelConfig& c, GgmlType t);

  // Cache types accepted by --cache-type, and whether a type can hold this model's rows.
  static bool supported(GgmlType t, const ModelConfig& c);

 private:
  MatView view(const std::vector<uint8_t>& buf, int row, int layer, int n, int col0, int cols, GgmlType t) const;
  MatView view(const std::vector<uint8_t>& buf, int row, int layer, int n, int col0, int cols) const {
    return view(buf, row, layer, n, col0, cols, type_);
  }
  uint8_t* row_ptr(std::vector<uint8_t>& buf, int row, int layer, int pos, GgmlType t);
  uint8_t* row_ptr(std::vector<uint8_t>& buf, int row, int layer, int pos) { return row_ptr(buf, row, layer, pos, type_); }

  GgmlType type_;
  GgmlType i_type_;
  int n_layer_;
  int n_ctx_;
  int k_row_;
  int v_row_;
  int i_row_;
  std::vector<uint8_t> k_;
  std::vector<uint8_t> v_;
  std::vector<uint8_t> i_;
};

// One independent conversation: its cache and how many positions are filled.
struct Sequence {
  Sequence(const ModelConfig& c, int n_ctx, GgmlType cache_type = GgmlType::F16) : cache(c, n_ctx, cache_type) {}
  KvCache cache;
  int n_past = 0;
};

// The cache type named by --cache-type: f16, bf16, q8_0 or f32 (std::invalid_argument otherwise).
GgmlType kv_cache_type_from_name(const std::string& name);

}  // namespace qs
