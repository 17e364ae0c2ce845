// Shapes of the synthetic models: real model families (DeepSeek-V3, V2-Lite, R1-Distill) and tiny ones.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qs {

struct SynthHparams {
  std::string arch;    // "deepseek2" | "deepseek32" | "qwen2" | "llama"
  std::string preset;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;   // qwen2/llama (GQA); deepseek2 uses n_head (legacy) or 1 (mainline)
  int64_t head_dim = 0;    // qwen2/llama
  int64_t n_ff = 0;        // dense FFN width
  int64_t n_ctx = 0;       // context_length
  float rms_eps = 1e-6f;
  float rope_theta = 10000.f;

  // deepseek2: MLA
  int64_t q_lora_rank = 0;  // 0: plain attn_q (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope = 0;
  int64_t qk_rope = 0;
  int64_t v_head_dim = 0;
  // deepseek2: MoE
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_expert_shared = 0;
  int64_t n_ff_exp = 0;
  int64_t n_leading_dense = 0;
  int64_t n_group = 0;       // 0: no group-limited routing (keys not written)
  int64_t n_group_used = 0;
  float expert_weights_scale = 1.f;
  bool expert_weights_norm = false;
  uint32_t gating_func = 1;  // llama.cpp enum: 1 softmax, 2 sigmoid
  bool exp_probs_b = false;  // selection bias (V3 family)
  // deepseek32: the DSA lightning indexer
  int64_t idx_n_head = 0;
  int64_t idx_head_dim = 0;
  int64_t idx_top_k = 0;

  // YaRN (deepseek2)
  bool yarn = false;
  float yarn_factor = 1.f;
  int64_t yarn_orig_ctx = 0;
  float yarn_log_mul = 0.f;  // stored as 0.1 * mscale_all_dim

  // Llama-3 frequency scaling, written as the rope_freqs.weight tensor like llama.cpp's converter.
  bool llama3_rope = false;
  float l3_factor = 8.f, l3_low = 1.f, l3_high = 4.f;
  int64_t l3_orig_ctx = 8192;

  bool qkv_bias = false;  // qwen2

  // Special ids of the synthetic byte vocabulary (ignored when a tokenizer is given).
  int64_t bos_id = 0;
  int64_t eos_id = 1;
};

const std::vector<std::string>& synth_archs();
const std::vector<std::string>& synth_presets(const std::string& arch);
// Throws std::runtime_error listing the valid choices on an unknown arch or preset.
SynthHparams synth_preset(const std::string& arch, const std::string& preset);

}  // namespace qs
