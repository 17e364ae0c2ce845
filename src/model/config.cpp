#include "model/config.h"

#include <cmath>
#include <optional>

#include "gguf/gguf_file.h"

namespace qs {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::DeepSeek2: return "deepseek2";
    case Arch::DeepSeek32: return "deepseek32";
    case Arch::Qwen2: return "qwen2";
    case Arch::Llama: return "llama";
  }
  return "?";
}

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> v = {"deepseek2", "deepseek32", "qwen2", "llama"};
  return v;
}

float ModelConfig::attn_scale() const {
  float scale = 1.0f / std::sqrt(static_cast<float>(head_dim_k));
  if (is_mla() && rope_scaling == RopeScaling::Yarn && rope_factor > 1.f && yarn_log_mul != 0.f) {
    const float mscale = 1.0f + yarn_log_mul * std::log(rope_factor);
    scale *= mscale * mscale;
  }
  return scale;
}

namespace {

struct Reader {
  const GgufFile& f;
  std::string prefix;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw GgufError(f.path() + ": key '" + key + "': " + what);
  }
  int get_int(const std::string& k, std::optional<int> def, int lo, int hi) const {
    const std::string key = prefix + k;
    auto v = f.get_uint(key);
    if (!v) {
      if (!def) fail(key, "required but missing");
      return *def;
    }
    if (*v < static_cast<uint64_t>(lo) || *v > static_cast<uint64_t>(hi))
      fail(key, "value " + std::to_string(*v) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int>(*v);
  }
  float get_f(const std::string& k, float def, float lo, float hi) const {
    const std::string key = prefix + k;
    auto v = f.get_float(key);
    if (!v) return def;
    if (!std::isfinite(*v) || *v < lo || *v > hi)
      fail(key, "value " + std::to_string(*v) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<float>(*v);
  }
};

constexpr int kMaxDim = 1 << 20;

}  // namespace

ModelConfig load_config(const GgufFile& f) {
  ModelConfig c;
  const auto arch = f.get_string("general.architecture");
  if (!arch) throw GgufError(f.path() + ": key 'general.architecture' is missing");
  if (*arch == "deepseek2") c.arch = Arch::DeepSeek2;
  else if (*arch == "deepseek32") c.arch = Arch::DeepSeek32;
  else if (*arch == "qwen2") c.arch = Arch::Qwen2;
  else if (*arch == "llama") c.arch = Arch::Llama;
  else {
    std::string list;
    for (const auto& a : supported_architectures()) list += (list.empty() ? "" : ", ") + a;
    throw GgufError(f.path() + ": unsupported architecture '" + *arch + "' (supported: " + list + ")");
  }
  c.name = f.get_string("general.name").value_or("");
  Reader r{f, *arch + "."};

  c.n_layer = r.get_int("block_count", std::nullopt, 1, 4096);
  // DeepSeek-V3's multi-token-prediction layers are counted in block_count and stored after the
  // model's own (blk.61 of V3): the forward pass stops before them.
  c.n_nextn = r.get_int("nextn_predict_layers", 0, 0, c.n_layer - 1);
  c.n_layer -= c.n_nextn;
  c.n_embd = r.get_int("embedding_length", std::nullopt, 1, kMaxDim);
  c.n_head = r.get_int("attention.head_count", std::nullopt, 1, 4096);
  c.n_head_kv = r.get_int("attention.head_count_kv", c.n_head, 1, 4096);
  c.n_ctx_train = r.get_int("context_length", 4096, 1, 1 << 24);
  c.n_ff = r.get_int("feed_forward_length", 0, 0, kMaxDim);
  c.rms_eps = r.get_f("attention.layer_norm_rms_epsilon", 1e-6f, 0.f, 1.f);
  c.rope_base = r.get_f("rope.freq_base", 10000.f, 1.f, 1e12f);

  const auto scaling = f.get_string(r.prefix + "rope.scaling.type");
  if (scaling && *scaling == "yarn") c.rope_scaling = RopeScaling::Yarn;
  else if (scaling && *scaling == "linear") c.rope_scaling = RopeScaling::Linear;
  else if (scaling && *scaling != "none") throw GgufError(f.path() + ": unsupported rope scaling '" + *scaling + "'");
  c.rope_factor = r.get_f("rope.scaling.factor", 1.f, 0.f, 1e6f);
  if (c.rope_factor == 0.f) c.rope_factor = 1.f;
  c.rope_orig_ctx = r.get_int("rope.scaling.original_context_length", c.n_ctx_train, 1, 1 << 24);
  c.yarn_log_mul = r.get_f("rope.scaling.yarn_log_multiplier", 0.f, 0.f, 100.f);
  c.yarn_beta_fast = r.get_f("rope.scaling.yarn_beta_fast", 32.f, 0.f, 1e6f);
  c.yarn_beta_slow = r.get_f("rope.scaling.yarn_beta_slow", 1.f, 0.f, 1e6f);

  if (c.is_mla()) {
    c.rope_style = RopeStyle::Adjacent;
    c.q_lora_rank = r.get_int("attention.q_lora_rank", 0, 0, kMaxDim);
    c.kv_lora_rank = r.get_int("attention.kv_lora_rank", std::nullopt, 1, kMaxDim);
    c.qk_rope = r.get_int("rope.dimension_count", std::nullopt, 2, kMaxDim);
    // The newer "MLA" generation stores the latent sizes in key/value_length and the real
    // per-head sizes in the _mla keys.
    if (f.find(r.prefix + "attention.key_length_mla")) {
      c.head_dim_k = r.get_int("attention.key_length_mla", std::nullopt, 1, kMaxDim);
      c.head_dim_v = r.get_int("attention.value_length_mla", std::nullopt, 1, kMaxDim);
    } else {
      c.head_dim_k = r.get_int("attention.key_length", 192, 1, kMaxDim);
      c.head_dim_v = r.get_int("attention.value_length", 128, 1, kMaxDim);
    }
    if (c.head_dim_k <= c.qk_rope)
      throw GgufError(f.path() + ": key length " + std::to_string(c.head_dim_k) + " must exceed the rope dimension " + std::to_string(c.qk_rope));
    c.qk_nope = c.head_dim_k - c.qk_rope;
    c.n_rot = c.qk_rope;
    c.n_head_kv = c.n_head;  // MLA: every head has its own decompressed K/V; head_count_kv may say 1
    c.n_leading_dense = r.get_int("leading_dense_block_count", 0, 0, c.n_layer);
    c.n_expert = r.get_int("expert_count", 0, 0, 1 << 16);
    if (c.n_expert > 0) {
      c.n_expert_used = r.get_int("expert_used_count", std::nullopt, 1, c.n_expert);
      c.n_expert_shared = r.get_int("expert_shared_count", 0, 0, 1024);
      c.n_ff_exp = r.get_int("expert_feed_forward_length", std::nullopt, 1, kMaxDim);
      c.expert_weights_scale = r.get_f("expert_weights_scale", 1.f, 0.f, 1e6f);
      c.expert_weights_norm = f.get_bool(r.prefix + "expert_weights_norm").value_or(false);
      const int g = r.get_int("expert_gating_func", 1, 1, 2);
      c.gating = g == 2 ? Gating::Sigmoid : Gating::Softmax;
      c.n_expert_groups = r.get_int("expert_group_count", 1, 1, c.n_expert);
      c.n_expert_groups_used = r.get_int("expert_group_used_count", c.n_expert_groups, 1, c.n_expert_groups);
      if (c.n_expert % c.n_expert_groups != 0)
        throw GgufError(f.path() + ": expert_count " + std::to_string(c.n_expert) + " is not divisible by expert_group_count " + std::to_string(c.n_expert_groups));
      if (c.n_expert_used > c.n_expert_groups_used * (c.n_expert / c.n_expert_groups))
        throw GgufError(f.path() + ": expert_used_count exceeds the experts in the used groups");
    }
    if (c.arch == Arch::DeepSeek32) {
      // The indexer's heads are [rope | nope] with rope as wide as MLA's; top_k 0 would mean dense.
      c.idx_n_head = r.get_int("attention.indexer.head_count", std::nullopt, 1, 4096);
      c.idx_head_dim = r.get_int("attention.indexer.key_length", std::nullopt, c.qk_rope + 2, kMaxDim);
      c.idx_top_k = r.get_int("attention.indexer.top_k", std::nullopt, 1, 1 << 24);
      c.idx_norm_eps = r.get_f("attention.layer_norm_epsilon", 1e-6f, 0.f, 1.f);
    }
  } else {
    c.rope_style = c.arch == Arch::Qwen2 ? RopeStyle::NeoX : RopeStyle::Adjacent;
    if (c.n_embd % c.n_head != 0) throw GgufError(f.path() + ": embedding_length is not a multiple of head_count");
    c.head_dim_k = r.get_int("attention.key_length", c.n_embd / c.n_head, 1, kMaxDim);
    c.head_dim_v = r.get_int("attention.value_length", c.head_dim_k, 1, kMaxDim);
    c.n_rot = r.get_int("rope.dimension_count", c.head_dim_k, 2, c.head_dim_k);
    if (c.n_head % c.n_head_kv != 0) throw GgufError(f.path() + ": head_count is not a multiple of head_count_kv");
  }
  if (c.n_rot % 2 != 0) throw GgufError(f.path() + ": rope dimension must be even");
  return c;
}

}  // namespace qs
