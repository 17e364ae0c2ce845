#include "synth/synth_presets.h"

#include <map>
#include <stdexcept>

namespace qs {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// MLA + MoE fields shared by the DeepSeek presets (V3 values, adjusted per preset).
SynthHparams deepseek_base() {
  SynthHparams h;
  h.arch = "deepseek2";
  h.n_ctx = 163840;
  h.rms_eps = 1e-6f;
  h.rope_theta = 10000.f;
  h.kv_lora_rank = 512;
  h.qk_nope = 128;
  h.qk_rope = 64;
  h.v_head_dim = 128;
  h.yarn = true;
  h.yarn_factor = 40.f;
  h.yarn_orig_ctx = 4096;
  return h;
}

SynthHparams ds_v3() {  // DeepSeek-V3 / R1 671B
  SynthHparams h = deepseek_base();
  h.n_vocab = 129280;
  h.n_embd = 7168;
  h.n_layer = 61;
  h.n_head = 128;
  h.n_ff = 18432;
  h.q_lora_rank = 1536;
  h.n_expert = 256;
  h.n_expert_used = 8;
  h.n_expert_shared = 1;
  h.n_ff_exp = 2048;
  h.n_leading_dense = 3;
  h.n_group = 8;
  h.n_group_used = 4;
  h.expert_weights_scale = 2.5f;
  h.expert_weights_norm = true;
  h.gating_func = 2;
  h.exp_probs_b = true;
  h.yarn_log_mul = 0.1f;  // mscale_all_dim 1.0
  h.bos_id = 0;
  h.eos_id = 1;
  return h;
}

SynthHparams ds_v2_lite() {  // DeepSeek-V2-Lite 16B
  SynthHparams h = deepseek_base();
  h.n_vocab = 102400;
  h.n_embd = 2048;
  h.n_layer = 27;
  h.n_head = 16;
  h.n_ff = 10944;
  h.q_lora_rank = 0;
  h.n_expert = 64;
  h.n_expert_used = 6;
  h.n_expert_shared = 2;
  h.n_ff_exp = 1408;
  h.n_leading_dense = 1;
  h.expert_weights_scale = 1.f;
  h.expert_weights_norm = false;
  h.gating_func = 1;
  h.yarn_log_mul = 0.0707f;  // 0.1 * mscale_all_dim 0.707
  h.bos_id = 100000;
  h.eos_id = 100001;
  return h;
}

SynthHparams ds_bench_moe() {  // V2-Lite widths with q-LoRA, 8 layers: a ~4 GB Q8_0 benchmark model
  SynthHparams h = ds_v2_lite();
  h.q_lora_rank = 1536;
  h.n_layer = 8;
  return h;
}

SynthHparams ds_tiny() {  // a few MB; every V3 feature (q-LoRA, groups, sigmoid + bias, YaRN)
  SynthHparams h = deepseek_base();
  h.n_vocab = 512;
  h.n_embd = 256;
  h.n_layer = 3;
  h.n_head = 4;
  h.n_ff = 512;
  h.n_ctx = 16384;
  h.q_lora_rank = 128;
  h.kv_lora_rank = 64;
  h.qk_nope = 32;
  h.qk_rope = 16;
  h.v_head_dim = 32;
  h.n_expert = 8;
  h.n_expert_used = 2;
  h.n_expert_shared = 1;
  h.n_ff_exp = 128;
  h.n_leading_dense = 1;
  h.n_group = 4;
  h.n_group_used = 2;
  h.expert_weights_scale = 2.5f;
  h.expert_weights_norm = true;
  h.gating_func = 2;
  h.exp_probs_b = true;
  h.yarn_factor = 4.f;
  h.yarn_orig_ctx = 4096;
  h.yarn_log_mul = 0.1f;
  return h;
}

SynthHparams qwen2_distill_1_5b() {  // DeepSeek-R1-Distill-Qwen-1.5B
  SynthHparams h;
  h.arch = "qwen2";
  h.n_vocab = 151936;
  h.n_embd = 1536;
  h.n_layer = 28;
  h.n_head = 12;
  h.n_head_kv = 2;
  h.head_dim = 128;
  h.n_ff = 8960;
  h.n_ctx = 131072;
  h.rms_eps = 1e-6f;
  h.rope_theta = 10000.f;
  h.qkv_bias = true;
  h.bos_id = 151646;
  h.eos_id = 151643;
  return h;
}

// The dense distills in miniature: a few MB, same architecture features (GQA, biases, rope kind).
static SynthHparams shrink_dense(SynthHparams h) {
  h.n_vocab = 512;
  h.n_embd = 256;
  h.n_layer = 3;
  h.n_head = 4;
  h.n_head_kv = 2;
  h.head_dim = 64;
  h.n_ff = 512;
  h.n_ctx = 4096;
  h.bos_id = 0;
  h.eos_id = 1;
  return h;
}

SynthHparams qwen2_tiny() { return shrink_dense(qwen2_distill_1_5b()); }

SynthHparams llama_distill_8b() {  // DeepSeek-R1-Distill-Llama-8B (Llama-3.1-8B shape)
  SynthHparams h;
  h.arch = "llama";
  h.n_vocab = 128256;
  h.n_embd = 4096;
  h.n_layer = 32;
  h.n_head = 32;
  h.n_head_kv = 8;
  h.head_dim = 128;
  h.n_ff = 14336;
  h.n_ctx = 131072;
  h.rms_eps = 1e-5f;
  h.rope_theta = 500000.f;
  h.llama3_rope = true;
  h.bos_id = 128000;
  h.eos_id = 128001;
  return h;
}

SynthHparams llama_tiny() {
  SynthHparams h = shrink_dense(llama_distill_8b());
  h.l3_orig_ctx = 512;  // so the tiny model's rope_freqs has all three regimes
  return h;
}

// DeepSeek-V3.2: V3 plus a lightning indexer of 64 heads × 128 picking 2048 keys per query.
SynthHparams with_indexer(SynthHparams h, int64_t heads, int64_t dim, int64_t top_k) {
  h.arch = "deepseek32";
  h.idx_n_head = heads;
  h.idx_head_dim = dim;
  h.idx_top_k = top_k;
  return h;
}
SynthHparams ds32_v32() { return with_indexer(ds_v3(), 64, 128, 2048); }
// bench-moe's widths with V3.2's indexer: decode at depth reads the indexer keys and 2048 latent rows.
SynthHparams ds32_bench() {
  SynthHparams h = with_indexer(ds_bench_moe(), 64, 128, 2048);
  h.n_ctx = 163840;
  return h;
}
SynthHparams ds32_tiny() { return with_indexer(ds_tiny(), 4, 32, 16); }

using Factory = SynthHparams (*)();
const std::map<std::string, std::vector<std::pair<std::string, Factory>>>& table() {
  static const std::map<std::string, std::vector<std::pair<std::string, Factory>>> t{
      {"deepseek2", {{"v3", ds_v3}, {"v2-lite", ds_v2_lite}, {"bench-moe", ds_bench_moe}, {"tiny", ds_tiny}}},
      {"deepseek32", {{"v3.2", ds32_v32}, {"bench-v32", ds32_bench}, {"tiny", ds32_tiny}}},
      {"qwen2", {{"r1-distill-qwen-1.5b", qwen2_distill_1_5b}, {"tiny", qwen2_tiny}}},
      {"llama", {{"r1-distill-llama-8b", llama_distill_8b}, {"tiny", llama_tiny}}},
  };
  return t;
}

}  // namespace

const std::vector<std::string>& synth_archs() {
  static const std::vector<std::string> v{"deepseek2", "deepseek32", "qwen2", "llama"};
  return v;
}

const std::vector<std::string>& synth_presets(const std::string& arch) {
  static const std::map<std::string, std::vector<std::string>> names = [] {
    std::map<std::string, std::vector<std::string>> m;
    for (const auto& [a, list] : table())
      for (const auto& p : list) m[a].push_back(p.first);
    return m;
  }();
  auto it = names.find(arch);
  if (it == names.end())
    throw std::runtime_error("unknown architecture '" + arch + "' (valid: " + join(synth_archs()) + ")");
  return it->second;
}

SynthHparams synth_preset(const std::string& arch, const std::string& preset) {
  const auto& presets = synth_presets(arch);  // validates arch
  for (const auto& [name, make] : table().at(arch)) {
    if (name != preset) continue;
    SynthHparams h = make();
    h.preset = name;
    return h;
  }
  throw std::runtime_error("unknown preset '" + preset + "' for architecture " + arch + " (valid: " +
                           join(presets) + ")");
}

}  // namespace qs
