#include "convert/hf_config.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "convert/safetensors.h"

namespace qs {

using json = nlohmann::json;

namespace {

// A positive (or, with allow_zero, non-negative) integer field.
int64_t int_field(const json& j, const char* key, const std::string& where, bool required = true, int64_t def = 0,
                  bool allow_zero = false) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) throw CheckpointError(where + ": config.json lacks \"" + key + "\"");
    return def;
  }
  if (!j[key].is_number_integer()) throw CheckpointError(where + ": config.json \"" + key + "\" is not an integer");
  const int64_t v = j[key].get<int64_t>();
  if (v < 0 || (v == 0 && !allow_zero) || v > (int64_t{1} << 31))
    throw CheckpointError(where + ": config.json \"" + key + "\" = " + std::to_string(v) + " is out of range");
  return v;
}

double num_field(const json& j, const char* key, double def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_number()) throw CheckpointError(std::string("config.json \"") + key + "\" is not a number");
  return j[key].get<double>();
}

}  // namespace

HfConfig read_hf_config(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  std::ifstream in(path);
  if (!in) throw CheckpointError(dir + ": no config.json");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw CheckpointError(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("architectures") || !j["architectures"].is_array() || j["architectures"].empty() ||
      !j["architectures"][0].is_string())
    throw CheckpointError(path + ": no \"architectures\"");
  HfConfig c;
  c.hf_arch = j["architectures"][0].get<std::string>();
  if (c.hf_arch == "DeepseekV3ForCausalLM" || c.hf_arch == "DeepseekV2ForCausalLM") c.gguf_arch = "deepseek2";
  else if (c.hf_arch == "Qwen2ForCausalLM") c.gguf_arch = "qwen2";
  else if (c.hf_arch == "LlamaForCausalLM") c.gguf_arch = "llama";
  else
    throw CheckpointError(path + ": architecture " + c.hf_arch.substr(0, 80) +
                          " is not converted (DeepseekV3ForCausalLM, DeepseekV2ForCausalLM, Qwen2ForCausalLM, LlamaForCausalLM)");
  c.vocab = int_field(j, "vocab_size", path);
  c.hidden = int_field(j, "hidden_size", path);
  c.n_layer = int_field(j, "num_hidden_layers", path);
  c.n_head = int_field(j, "num_attention_heads", path);
  c.n_head_kv = int_field(j, "num_key_value_heads", path, false, c.n_head);
  c.ff = int_field(j, "intermediate_size", path);
  c.max_pos = int_field(j, "max_position_embeddings", path, false, 4096);
  c.rms_eps = num_field(j, "rms_norm_eps", 1e-6);
  c.rope_theta = num_field(j, "rope_theta", 10000);
  c.tie_embeddings = j.value("tie_word_embeddings", false);
  c.head_dim = int_field(j, "head_dim", path, false, c.n_head > 0 ? c.hidden / c.n_head : 0);
  if (c.n_head_kv > c.n_head || c.n_head % c.n_head_kv != 0)
    throw CheckpointError(path + ": num_key_value_heads must divide num_attention_heads");
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    const std::string type = rs.value("type", rs.value("rope_type", ""));
    if (type == "yarn") {
      c.yarn = true;
      c.yarn_factor = num_field(rs, "factor", 1);
      c.yarn_orig_ctx = int_field(rs, "original_max_position_embeddings", path);
      c.yarn_mscale_all_dim = num_field(rs, "mscale_all_dim", 0);
    } else if (type == "llama3" && c.gguf_arch == "llama") {
      c.llama3_rope = true;
      c.l3_factor = static_cast<float>(num_field(rs, "factor", 8));
      c.l3_low = static_cast<float>(num_field(rs, "low_freq_factor", 1));
      c.l3_high = static_cast<float>(num_field(rs, "high_freq_factor", 4));
      c.l3_orig_ctx = int_field(rs, "original_max_position_embeddings", path);
      if (!(c.l3_high > c.l3_low) || !(c.l3_low > 0) || !(c.l3_factor > 0))
        throw CheckpointError(path + ": rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0");
    } else if (!type.empty() && type != "default") {
      throw CheckpointError(path + ": rope_scaling type '" + type.substr(0, 40) + "' is not converted yet");
    }
  }
  if (j.contains("quantization_config") && j["quantization_config"].is_object()) {
    const json& q = j["quantization_config"];
    if (q.value("quant_method", "") != "fp8")
      throw CheckpointError(path + ": quantization_config.quant_method '" + q.value("quant_method", "").substr(0, 40) +
                            "' is not converted (fp8 is)");
    const json bs = q.value("weight_block_size", json::array());
    if (!bs.is_array() || bs.size() != 2 || !bs[0].is_number_integer() || !bs[1].is_number_integer() || bs[0].get<int64_t>() <= 0 ||
        bs[1].get<int64_t>() <= 0)
      throw CheckpointError(path + ": quantization_config.weight_block_size must be two positive integers");
    c.block_rows = bs[0].get<int64_t>();
    c.block_cols = bs[1].get<int64_t>();
  }
  if (!c.deepseek()) return c;
  c.n_nextn = int_field(j, "num_nextn_predict_layers", path, false, 0, true);
  c.q_lora = int_field(j, "q_lora_rank", path, false, 0, true);
  c.kv_lora = int_field(j, "kv_lora_rank", path);
  c.qk_nope = int_field(j, "qk_nope_head_dim", path);
  c.qk_rope = int_field(j, "qk_rope_head_dim", path);
  c.v_head = int_field(j, "v_head_dim", path);
  c.n_expert = int_field(j, "n_routed_experts", path);
  c.n_expert_used = int_field(j, "num_experts_per_tok", path);
  c.n_shared = int_field(j, "n_shared_experts", path, false, 0, true);
  c.moe_ff = int_field(j, "moe_intermediate_size", path);
  c.first_dense = int_field(j, "first_k_dense_replace", path, false, 0, true);
  c.routed_scale = num_field(j, "routed_scaling_factor", 1);
  c.norm_topk = j.value("norm_topk_prob", false);
  c.sigmoid = j.value("scoring_func", "softmax") == "sigmoid";
  const std::string topk = j.value("topk_method", "greedy");
  if (topk == "noaux_tc" || topk == "group_limited_greedy") {
    c.n_group = int_field(j, "n_group", path, false, 0, true);
    c.topk_group = int_field(j, "topk_group", path, false, 0, true);
  }
  if (c.n_expert_used > c.n_expert) throw CheckpointError(path + ": num_experts_per_tok exceeds n_routed_experts");
  if (c.first_dense > c.n_layer) throw CheckpointError(path + ": first_k_dense_replace exceeds num_hidden_layers");
  return c;
}

void write_arch_metadata(const HfConfig& c, GgufWriter& w) {
  const std::string a = c.gguf_arch + ".";
  auto u32 = [&](const std::string& k, int64_t v) { w.set(a + k, GgufValue::make_u32(static_cast<uint32_t>(v))); };
  auto f32 = [&](const std::string& k, double v) { w.set(a + k, GgufValue::make_f32(static_cast<float>(v))); };
  u32("block_count", c.n_layer + c.n_nextn);
  u32("context_length", c.max_pos);
  u32("embedding_length", c.hidden);
  u32("feed_forward_length", c.ff);
  u32("attention.head_count", c.n_head);
  f32("rope.freq_base", c.rope_theta);
  f32("attention.layer_norm_rms_epsilon", c.rms_eps);
  if (!c.deepseek()) {
    u32("attention.head_count_kv", c.n_head_kv);
    if (c.gguf_arch == "llama") {
      u32("vocab_size", c.vocab);
      u32("rope.dimension_count", c.head_dim);
    }
    return;
  }
  u32("attention.head_count_kv", 1);
  u32("expert_used_count", c.n_expert_used);
  u32("leading_dense_block_count", c.first_dense);
  u32("vocab_size", c.vocab);
  if (c.q_lora > 0) u32("attention.q_lora_rank", c.q_lora);
  u32("attention.kv_lora_rank", c.kv_lora);
  u32("attention.key_length", c.kv_lora + c.qk_rope);
  u32("attention.value_length", c.kv_lora);
  u32("attention.key_length_mla", c.qk_nope + c.qk_rope);
  u32("attention.value_length_mla", c.v_head);
  u32("expert_feed_forward_length", c.moe_ff);
  u32("expert_count", c.n_expert);
  u32("expert_shared_count", c.n_shared);
  f32("expert_weights_scale", c.routed_scale);
  w.set(a + "expert_weights_norm", GgufValue::make_bool(c.norm_topk));
  u32("expert_gating_func", c.sigmoid ? 2 : 1);
  if (c.n_group > 0) {
    u32("expert_group_count", c.n_group);
    u32("expert_group_used_count", c.topk_group);
  }
  u32("rope.dimension_count", c.qk_rope);
  if (c.yarn) {
    w.set(a + "rope.scaling.type", GgufValue::make_str("yarn"));
    f32("rope.scaling.factor", c.yarn_factor);
    u32("rope.scaling.original_context_length", c.yarn_orig_ctx);
    f32("rope.scaling.yarn_log_multiplier", 0.1 * c.yarn_mscale_all_dim);
  }
  if (c.n_nextn > 0) u32("nextn_predict_layers", c.n_nextn);
}

}  // namespace qs
