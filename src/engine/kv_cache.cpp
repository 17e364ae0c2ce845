#include "engine/kv_cache.h"

#include <stdexcept>
#include <string>

namespace qs {

KvCache::KvCache(const ModelConfig& c, int n_ctx) : n_layer_(c.n_layer), n_ctx_(n_ctx) {
  if (n_ctx <= 0) throw std::invalid_argument("context size must be positive");
  if (c.is_mla()) {
    k_row_ = c.kv_lora_rank + c.qk_rope;
    v_row_ = 0;
  } else {
    k_row_ = c.n_head_kv * c.head_dim_k;
    v_row_ = c.n_head_kv * c.head_dim_v;
  }
  const double bytes = static_cast<double>(n_layer_) * n_ctx_ * (k_row_ + v_row_) * sizeof(float);
  if (bytes > 64.0 * (1ull << 30))
    throw std::invalid_argument("KV cache for " + std::to_string(n_ctx) + " tokens would need " +
                                std::to_string(static_cast<long long>(bytes / (1 << 20))) + " MiB; use a smaller context");
  k_.assign(static_cast<size_t>(n_layer_) * n_ctx_ * k_row_, 0.f);
  v_.assign(static_cast<size_t>(n_layer_) * n_ctx_ * v_row_, 0.f);
}

}  // namespace qs
