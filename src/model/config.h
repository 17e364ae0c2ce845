// Hyperparameters of a model, read from GGUF metadata and checked for consistency.
#pragma once
#include <string>
#include <vector>

namespace qs {

class GgufFile;

enum class Arch { DeepSeek2, DeepSeek32, Qwen2, Llama };  // DeepSeek32: V3.2, MLA + sparse attention (DSA)
enum class RopeStyle { Adjacent, NeoX };  // pairs (2i, 2i+1) vs (i, i + d/2)
enum class RopeScaling { None, Linear, Yarn };
enum class Gating { Softmax, Sigmoid };

const char* arch_name(Arch a);
const std::vector<std::string>& supported_architectures();

struct ModelConfig {
  Arch arch = Arch::Llama;
  std::string name;
  int n_layer = 0;   // layers the forward pass runs
  int n_nextn = 0;   // MTP layers after them in the file (not run)
  int n_embd = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int n_vocab = 0;
  int n_ctx_train = 0;
  int n_ff = 0;  // dense FFN width
  float rms_eps = 1e-6f;

  // Attention head sizes. For MLA: head_dim_k = qk_nope + qk_rope, head_dim_v = v_head_dim.
  int head_dim_k = 0;
  int head_dim_v = 0;

  // RoPE
  RopeStyle rope_style = RopeStyle::Adjacent;
  int n_rot = 0;
  float rope_base = 10000.f;
  RopeScaling rope_scaling = RopeScaling::None;
  float rope_factor = 1.f;
  int rope_orig_ctx = 0;
  float yarn_log_mul = 0.f;  // as stored: 0.1 * mscale_all_dim
  float yarn_beta_fast = 32.f;
  float yarn_beta_slow = 1.f;

  // MLA (deepseek2)
  int q_lora_rank = 0;  // 0: plain attn_q (V2-Lite)
  int kv_lora_rank = 0;
  int qk_nope = 0;
  int qk_rope = 0;

  // MoE (deepseek2)
  int n_expert = 0;
  int n_expert_used = 0;
  int n_expert_shared = 0;
  int n_ff_exp = 0;
  int n_leading_dense = 0;
  int n_expert_groups = 1;
  int n_expert_groups_used = 1;
  bool expert_weights_norm = false;
  float expert_weights_scale = 1.f;
  Gating gating = Gating::Softmax;

  // DSA lightning indexer (deepseek32): per query the top_k past positions MLA attends to.
  int idx_n_head = 0;
  int idx_head_dim = 0;  // [rope (qk_rope wide) | nope]
  int idx_top_k = 0;     // 0: dense attention
  float idx_norm_eps = 1e-6f;

  bool is_mla() const { return arch == Arch::DeepSeek2 || arch == Arch::DeepSeek32; }
  bool has_indexer() const { return idx_top_k > 0; }
  bool is_moe_layer(int il) const { return n_expert > 0 && il >= n_leading_dense; }
  // Values cached per token per layer: MLA keeps the latent and the roped key only (and DSA its indexer key).
  int kv_values_per_token_layer() const {
    return is_mla() ? kv_lora_rank + qk_rope + (has_indexer() ? idx_head_dim : 0) : n_head_kv * (head_dim_k + head_dim_v);
  }
  float attn_scale() const;  // softmax scale incl. the YaRN mscale² correction for MLA
};

// Reads and validates the config; throws GgufError naming the key on bad or missing values.
ModelConfig load_config(const GgufFile& f);

}  // namespace qs
