#include "model/kv_cache.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "tensor/quants.h"

namespace qs {

bool KvCache::supported(GgmlType t, const ModelConfig& c) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
      return true;
    case GgmlType::Q8_0:
      // Rows (and, for GQA, every head's slice) must be whole 32-element blocks.
      return c.is_mla() ? (c.kv_lora_rank % 32 == 0 && c.qk_rope % 32 == 0)
                        : (c.head_dim_k % 32 == 0 && c.head_dim_v % 32 == 0);
    default:
      return false;
  }
}

size_t KvCache::bytes_per_token(const ModelConfig& c, GgmlType t) {
  const size_t per_layer = c.is_mla() ? row_bytes(t, c.kv_lora_rank + c.qk_rope) +
                                            (c.has_indexer() ? row_bytes(index_type_for(t), c.idx_head_dim) : 0)
                                      : row_bytes(t, c.n_head_kv * c.head_dim_k) + row_bytes(t, c.n_head_kv * c.head_dim_v);
  return static_cast<size_t>(c.n_layer) * per_layer;
}

KvCache::KvCache(const ModelConfig& c, int n_ctx, GgmlType type)
    : type_(type), i_type_(index_type_for(type)), n_layer_(c.n_layer), n_ctx_(n_ctx), i_row_(c.has_indexer() ? c.idx_head_dim : 0) {
  if (n_ctx <= 0) throw std::invalid_argument("context size must be positive");
  if (!supported(type, c))
    throw std::invalid_argument("KV cache type " + std::string(traits(type).name) + " is not supported for this model (use f16, bf16, f32" +
                                (c.is_mla() ? ", q8_0)" : ")"));
  if (c.is_mla()) {
    k_row_ = c.kv_lora_rank + c.qk_rope;
    v_row_ = 0;
  } else {
    k_row_ = c.n_head_kv * c.head_dim_k;
    v_row_ = c.n_head_kv * c.head_dim_v;
  }
  const double bytes = static_cast<double>(bytes_per_token()) * n_ctx_;
  if (bytes > 64.0 * (1ull << 30))
    throw std::invalid_argument("KV cache for " + std::to_string(n_ctx) + " tokens would need " +
                                std::to_string(static_cast<long long>(bytes / (1 << 20))) + " MiB; use a smaller context");
  k_.assign(static_cast<size_t>(n_layer_) * n_ctx_ * row_bytes(type_, k_row_), 0);
  if (v_row_) v_.assign(static_cast<size_t>(n_layer_) * n_ctx_ * row_bytes(type_, v_row_), 0);
  if (i_row_) i_.assign(static_cast<size_t>(n_layer_) * n_ctx_ * row_bytes(i_type_, i_row_), 0);
}

uint8_t* KvCache::row_ptr(std::vector<uint8_t>& buf, int row, int layer, int pos, GgmlType t) {
  const size_t rb = row_bytes(t, row);
  return buf.data() + (static_cast<size_t>(layer) * n_ctx_ + static_cast<size_t>(pos)) * rb;
}

void KvCache::store_k(int layer, int pos, const float* row) {
  uint8_t* dst = row_ptr(k_, k_row_, layer, pos);
  if (type_ == GgmlType::F32) std::memcpy(dst, row, sizeof(float) * k_row_);
  else quantize_row(type_, row, dst, k_row_);
}

void KvCache::store_v(int layer, int pos, const float* row) {
  uint8_t* dst = row_ptr(v_, v_row_, layer, pos);
  if (type_ == GgmlType::F32) std::memcpy(dst, row, sizeof(float) * v_row_);
  else quantize_row(type_, row, dst, v_row_);
}

void KvCache::store_index_key(int layer, int pos, const float* row) {
  uint8_t* dst = row_ptr(i_, i_row_, layer, pos, i_type_);
  if (i_type_ == GgmlType::F32) std::memcpy(dst, row, sizeof(float) * i_row_);
  else quantize_row(i_type_, row, dst, i_row_);
}

void KvCache::load_k(int layer, int pos, float* out) const {
  const size_t rb = row_bytes(type_, k_row_);
  dequantize_row(type_, k_.data() + (static_cast<size_t>(layer) * n_ctx_ + pos) * rb, out, k_row_);
}

void KvCache::copy_positions(const KvCache& src, int src_pos, int dst_pos, int n) {
  if (src.type_ != type_ || src.n_layer_ != n_layer_ || src.k_row_ != k_row_ || src.v_row_ != v_row_ ||
      src.i_row_ != i_row_)
    throw std::invalid_argument("copy_positions: caches of different shapes or types");
  if (n < 0 || src_pos < 0 || dst_pos < 0 || src_pos + n > src.n_ctx_ || dst_pos + n > n_ctx_)
    throw std::out_of_range("copy_positions: range outside the cache");
  if (n == 0) return;
  auto copy = [&](const std::vector<uint8_t>& from, std::vector<uint8_t>& to, int row, GgmlType t) {
    const size_t rb = row_bytes(t, row);
    for (int l = 0; l < n_layer_; ++l)
      std::memmove(to.data() + (static_cast<size_t>(l) * n_ctx_ + dst_pos) * rb,
                   from.data() + (static_cast<size_t>(l) * src.n_ctx_ + src_pos) * rb, rb * static_cast<size_t>(n));
  };
  copy(src.k_, k_, k_row_, type_);
  if (v_row_) copy(src.v_, v_, v_row_, type_);
  if (i_row_) copy(src.i_, i_, i_row_, i_type_);
}

MatView KvCache::index_view(int layer, int n) const { return view(i_, i_row_, layer, n, 0, i_row_, i_type_); }

MatView KvCache::view(const std::vector<uint8_t>& buf, int row, int layer, int n, int col0, int cols, GgmlType t) const {
  const size_t rb = row_bytes(t, row);
  MatView m;
  m.data = buf.data() + static_cast<size_t>(layer) * n_ctx_ * rb + row_bytes(t, col0);
  m.type = t;
  m.rows = n;
  m.cols = cols;
  m.row_stride = rb;
  return m;
}

GgmlType kv_cache_type_from_name(const std::string& name) {
  const auto t = type_from_name(name);
  if (!t || (*t != GgmlType::F16 && *t != GgmlType::BF16 && *t != GgmlType::Q8_0 && *t != GgmlType::F32))
    throw std::invalid_argument("--cache-type must be f16, bf16, q8_0 or f32 (got '" + name + "')");
  return *t;
}

}  // namespace qs
