// A loaded model: the mapped GGUF, its config and bound weights, and the forward pass.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/kv_cache.h"
#include "model/memory_budget.h"
#include "gguf/gguf_file.h"
#include "model/attention.h"
#include "model/config.h"
#include "model/rope.h"
#include "model/weights.h"

namespace qs {

class WeightStore;

struct LoadOptions {
  // Rearrange weights at load into the SIMD kernels' faster layouts (a copy in anonymous memory).
  // Auto: only when the copy fits comfortably in available RAM; otherwise weights stay mmapped.
  enum class Repack { Auto, On, Off } repack = Repack::Auto;
  // Refuse (ResourceError) when the weights alone exceed the machine's memory limit.
  bool check_memory = true;
  // Called as the weights are rearranged (bytes done, bytes in all): for a progress bar.
  std::function<void(size_t done, size_t total)> on_progress;
};

class Model {
 public:
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& opt = {});
  // Takes ownership of an already parsed file (tests build GGUFs in memory).
  static std::unique_ptr<Model> from_file(std::unique_ptr<GgufFile> f, const LoadOptions& opt = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }
  const ModelWeights& weights() const { return weights_; }
  int n_vocab() const { return config_.n_vocab; }

  // A fresh sequence with room for n_ctx positions (0: min(training context, 4096)), its cache in
  // the model's cache type (F16 unless set_cache_type chose another). Throws ResourceError when
  // the weights and this cache would not fit in memory (see model/memory_budget.h).
  std::unique_ptr<Sequence> new_sequence(int n_ctx = 0) const;
  uint64_t kv_bytes_per_token() const;  // in the current cache type
  // What serving n_seq sequences of n_ctx positions holds resident: weights and KV caches.
  MemoryNeed memory_need(int n_seq, int n_ctx) const;

  // Longest run of tokens one forward pass evaluates; forward() splits longer inputs into chunks
  // of this size so scratch memory stays bounded whatever the prompt length.
  static constexpr int kMaxBatchTokens = 512;
  void set_cache_type(GgmlType t);
  GgmlType cache_type() const { return cache_type_; }

  // Evaluates tokens at positions seq.n_past.. as one batch and advances seq.n_past.
  // logits receives n × n_vocab floats when all_logits, else the last row only (may be null).
  void forward(Sequence& seq, const int32_t* tokens, int n, float* logits, bool all_logits) const;

  // One step for many sequences at once (continuous batching): the weights are read once for all
  // tokens. A sequence's tokens must be consecutive in the batch and appear in one run only; each
  // continues from its n_past. logits receives one n_vocab row per entry with want_logits, in order.
  struct BatchToken {
    Sequence* seq;
    int32_t token;
    bool want_logits;
  };
  void forward_batch(const std::vector<BatchToken>& batch, float* logits) const;

  void set_mla_mode(MlaMode m) { mla_mode_ = m; }
  MlaMode mla_mode() const { return mla_mode_; }

  uint64_t parameter_count() const;
  uint64_t weight_bytes() const;
  uint64_t repacked_bytes() const;
  // Weight bytes one decoded token reads: every tensor, except that only the used share of the
  // routed experts counts and only one row of the embedding table.
  uint64_t active_bytes_per_token() const;

 private:
  Model() = default;
  void repack_weights(const LoadOptions& opt);
  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  ModelWeights weights_;
  std::unique_ptr<Rope> rope_;
  MlaMode mla_mode_ = MlaMode::Auto;
  GgmlType cache_type_ = GgmlType::F16;
  std::unique_ptr<WeightStore> store_;  // weights moved out of the file (repacked, copied, widened)
};

}  // namespace qs
