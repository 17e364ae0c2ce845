// A Hugging Face checkpoint's config.json, for the architectures qiusuo converts: DeepseekV3ForCausalLM
// (V3, R1, V3.1), DeepseekV2ForCausalLM (V2, V2-Lite), Qwen2ForCausalLM and LlamaForCausalLM (the
// R1-Distill models). Missing or nonsensical fields are CheckpointErrors naming the field.
#pragma once
#include <cstdint>
#include <string>

#include "gguf/gguf_writer.h"

namespace qs {

struct HfConfig {
  std::string hf_arch;    // architectures[0]
  std::string gguf_arch;  // deepseek2, qwen2, llama
  int64_t vocab = 0, hidden = 0, n_layer = 0, n_nextn = 0, n_head = 0, n_head_kv = 0, ff = 0, head_dim = 0;
  int64_t max_pos = 0;
  double rms_eps = 1e-6, rope_theta = 10000;
  bool tie_embeddings = false;
  // DeepSeek MLA + MoE.
  int64_t q_lora = 0, kv_lora = 0, qk_nope = 0, qk_rope = 0, v_head = 0;
  int64_t n_expert = 0, n_expert_used = 0, n_shared = 0, moe_ff = 0, first_dense = 0, n_group = 0, topk_group = 0;
  double routed_scale = 1;
  bool norm_topk = false;
  bool sigmoid = false;  // scoring_func
  // YaRN (DeepSeek's rope_scaling).
  bool yarn = false;
  double yarn_factor = 1, yarn_mscale_all_dim = 0;
  int64_t yarn_orig_ctx = 0;
  // Llama-3 RoPE scaling (written as the rope_freqs tensor).
  bool llama3_rope = false;
  float l3_factor = 8, l3_low = 1, l3_high = 4;
  int64_t l3_orig_ctx = 8192;
  // FP8 checkpoints: quantization_config.weight_block_size.
  int64_t block_rows = 0, block_cols = 0;

  bool deepseek() const { return gguf_arch == "deepseek2"; }
};

HfConfig read_hf_config(const std::string& dir);

// The ARCH.* keys llama.cpp's converter writes (current MLA layout for deepseek2: head_count_kv 1 and the
// *_mla lengths; block_count includes the MTP layers, nextn_predict_layers says how many).
void write_arch_metadata(const HfConfig& c, GgufWriter& w);

}  // namespace qs
