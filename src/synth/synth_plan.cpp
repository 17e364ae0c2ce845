#include "synth/synth_plan.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "gguf/llama3_rope.h"
#include "synth/synth_rng.h"
#include "synth/synth_vocab.h"
#include "tensor/quants.h"

namespace qs {

namespace {

bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }
bool is_mla_arch(const std::string& arch) { return arch == "deepseek2" || arch == "deepseek32"; }

class Planner {
 public:
  Planner(const SynthOptions& opt, ModelPlan* plan) : opt_(opt), p_(plan), hp_(plan->hp) {}

  // A weight matrix: quantized to the requested type (or its fallback), N(0, (k/sqrt(fan_in))²).
  TensorPlan& weight(const std::string& name, std::vector<int64_t> ne, float k) {
    const float sigma = k / std::sqrt(static_cast<float>(ne[0]));
    const GgmlType type = quant_fallback_type(opt_.type, ne[0]);
    return add(name, std::move(ne), type, 0.f, sigma);
  }
  // Kept F32 like llama.cpp does for 1-D tensors and the router.
  TensorPlan& f32(const std::string& name, std::vector<int64_t> ne, float mean, float sigma) {
    return add(name, std::move(ne), GgmlType::F32, mean, sigma);
  }
  TensorPlan& norm(const std::string& name, int64_t n) { return f32(name, {n}, 1.f, SynthScales::kNormNoise); }

  void deepseek2_block(int il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const int64_t d = hp_.n_embd, H = hp_.n_head, dn = hp_.qk_nope, dr = hp_.qk_rope, dv = hp_.v_head_dim;
    const int64_t dc = hp_.kv_lora_rank;
    norm(b + "attn_norm.weight", d);
    if (hp_.q_lora_rank > 0) {
      weight(b + "attn_q_a.weight", {d, hp_.q_lora_rank}, SynthScales::kLinear);
      norm(b + "attn_q_a_norm.weight", hp_.q_lora_rank);
      weight(b + "attn_q_b.weight", {hp_.q_lora_rank, H * (dn + dr)}, SynthScales::kLinear);
    } else {
      weight(b + "attn_q.weight", {d, H * (dn + dr)}, SynthScales::kLinear);
    }
    weight(b + "attn_kv_a_mqa.weight", {d, dc + dr}, SynthScales::kLinear);
    norm(b + "attn_kv_a_norm.weight", dc);
    // attn_k_b / attn_v_b are views of the same kv_b values, whether or not kv_b itself is written.
    const std::string kvb = b + "attn_kv_b.weight";
    const float kvb_sigma = SynthScales::kLinear / std::sqrt(static_cast<float>(dc));
    if (opt_.mla_layout != MlaFileLayout::Mainline) weight(kvb, {dc, H * (dn + dv)}, SynthScales::kLinear);
    if (opt_.mla_layout != MlaFileLayout::Legacy) {
      const bool ik = opt_.mla_layout == MlaFileLayout::Ik;
      // Configure each tensor before the next push_back can move it.
      auto derived = [&](const std::string& name, std::vector<int64_t> ne, Fill fill) {
        TensorPlan& t = weight(name, std::move(ne), SynthScales::kLinear);
        t.fill = fill;
        t.src = kvb;
        t.src_sigma = kvb_sigma;
        t.d_n = dn;
        t.d_v = dv;
        t.d_c = dc;
      };
      derived(b + "attn_k_b.weight", ik ? std::vector<int64_t>{dn, H * dc} : std::vector<int64_t>{dn, dc, H}, Fill::KFromKvb);
      derived(b + "attn_v_b.weight", ik ? std::vector<int64_t>{dc, H * dv} : std::vector<int64_t>{dc, dv, H}, Fill::VFromKvb);
    }
    weight(b + "attn_output.weight", {H * dv, d}, SynthScales::kResidualOut);
    if (hp_.idx_top_k > 0) {  // DSA indexer; its score weights stay F32 as the converters keep them
      const int64_t ih = hp_.idx_n_head, id = hp_.idx_head_dim;
      weight(b + "indexer.attn_q_b.weight", {hp_.q_lora_rank, ih * id}, SynthScales::kLinear);
      weight(b + "indexer.attn_k.weight", {d, id}, SynthScales::kLinear);
      norm(b + "indexer.k_norm.weight", id);
      f32(b + "indexer.k_norm.bias", {id}, 0.f, SynthScales::kNormNoise);
      f32(b + "indexer.proj.weight", {d, ih}, 0.f, SynthScales::kLinear / std::sqrt(static_cast<float>(d)));
    }
    norm(b + "ffn_norm.weight", d);
    if (il < hp_.n_leading_dense) {
      dense_ffn(b, hp_.n_ff);
      return;
    }
    const int64_t E = hp_.n_expert, ff = hp_.n_ff_exp;
    f32(b + "ffn_gate_inp.weight", {d, E}, 0.f, SynthScales::kRouter / std::sqrt(static_cast<float>(d)));
    if (hp_.exp_probs_b) f32(b + "exp_probs_b.bias", {E}, 0.f, SynthScales::kExpProbsB);
    weight(b + "ffn_gate_exps.weight", {d, ff, E}, SynthScales::kLinear);
    weight(b + "ffn_up_exps.weight", {d, ff, E}, SynthScales::kLinear);
    weight(b + "ffn_down_exps.weight", {ff, d, E}, SynthScales::kResidualOut);
    if (hp_.n_expert_shared > 0) {
      const int64_t fs = ff * hp_.n_expert_shared;
      weight(b + "ffn_gate_shexp.weight", {d, fs}, SynthScales::kLinear);
      weight(b + "ffn_up_shexp.weight", {d, fs}, SynthScales::kLinear);
      weight(b + "ffn_down_shexp.weight", {fs, d}, SynthScales::kResidualOut);
    }
  }

  void gqa_block(int il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const int64_t d = hp_.n_embd, q = hp_.n_head * hp_.head_dim, kv = hp_.n_head_kv * hp_.head_dim;
    norm(b + "attn_norm.weight", d);
    weight(b + "attn_q.weight", {d, q}, SynthScales::kLinear);
    if (hp_.qkv_bias) f32(b + "attn_q.bias", {q}, 0.f, SynthScales::kQkvBias);
    weight(b + "attn_k.weight", {d, kv}, SynthScales::kLinear);
    if (hp_.qkv_bias) f32(b + "attn_k.bias", {kv}, 0.f, SynthScales::kQkvBias);
    weight(b + "attn_v.weight", {d, kv}, SynthScales::kLinear);
    if (hp_.qkv_bias) f32(b + "attn_v.bias", {kv}, 0.f, SynthScales::kQkvBias);
    weight(b + "attn_output.weight", {q, d}, SynthScales::kResidualOut);
    norm(b + "ffn_norm.weight", d);
    dense_ffn(b, hp_.n_ff);
  }

  void tensors() {
    f32("token_embd.weight", {hp_.n_embd, hp_.n_vocab}, 0.f, SynthScales::kEmbedding).type =
        quant_fallback_type(opt_.type, hp_.n_embd);
    if (hp_.llama3_rope) f32("rope_freqs.weight", {hp_.head_dim / 2}, 0.f, 0.f).fill = Fill::RopeFreqs;
    for (int il = 0; il < hp_.n_layer; ++il) {
      if (is_mla_arch(hp_.arch)) {
        deepseek2_block(il);
      } else {
        gqa_block(il);
      }
    }
    norm("output_norm.weight", hp_.n_embd);
    weight("output.weight", {hp_.n_embd, hp_.n_vocab}, SynthScales::kLmHead);
  }

 private:
  TensorPlan& add(const std::string& name, std::vector<int64_t> ne, GgmlType type, float mean, float sigma) {
    TensorPlan t;
    t.name = name;
    t.ne = std::move(ne);
    t.type = type;
    t.mean = mean;
    t.sigma = sigma;
    p_->tensors.push_back(std::move(t));
    return p_->tensors.back();
  }
  void dense_ffn(const std::string& b, int64_t ff) {
    const int64_t d = hp_.n_embd;
    weight(b + "ffn_gate.weight", {d, ff}, SynthScales::kLinear);
    weight(b + "ffn_up.weight", {d, ff}, SynthScales::kLinear);
    weight(b + "ffn_down.weight", {ff, d}, SynthScales::kResidualOut);
  }

  const SynthOptions& opt_;
  ModelPlan* p_;
  const SynthHparams& hp_;
};

std::string default_pre(const SynthHparams& hp) {
  if (hp.arch == "qwen2") return "deepseek-r1-qwen";
  if (hp.arch == "llama") return "llama-bpe";
  return hp.preset == "v2-lite" ? "deepseek-llm" : "deepseek-v3";
}

void arch_metadata(const SynthOptions& opt, const SynthHparams& hp, ModelPlan* p) {
  const std::string a = hp.arch + ".";
  auto u32 = [&](const std::string& k, int64_t v) { p->kv.emplace_back(a + k, GgufValue::make_u32(static_cast<uint32_t>(v))); };
  auto f32 = [&](const std::string& k, float v) { p->kv.emplace_back(a + k, GgufValue::make_f32(v)); };
  u32("block_count", hp.n_layer);
  u32("context_length", hp.n_ctx);
  u32("embedding_length", hp.n_embd);
  u32("feed_forward_length", hp.n_ff);
  u32("attention.head_count", hp.n_head);
  if (!is_mla_arch(hp.arch)) {
    u32("attention.head_count_kv", hp.n_head_kv);
    f32("rope.freq_base", hp.rope_theta);
    f32("attention.layer_norm_rms_epsilon", hp.rms_eps);
    if (hp.arch == "llama") {
      u32("vocab_size", hp.n_vocab);
      u32("rope.dimension_count", hp.head_dim);
    }
    return;
  }
  const bool mainline = opt.mla_layout == MlaFileLayout::Mainline;
  u32("attention.head_count_kv", mainline ? 1 : hp.n_head);
  f32("rope.freq_base", hp.rope_theta);
  f32("attention.layer_norm_rms_epsilon", hp.rms_eps);
  u32("expert_used_count", hp.n_expert_used);
  u32("leading_dense_block_count", hp.n_leading_dense);
  u32("vocab_size", hp.n_vocab);
  if (hp.q_lora_rank > 0) u32("attention.q_lora_rank", hp.q_lora_rank);
  u32("attention.kv_lora_rank", hp.kv_lora_rank);
  u32("attention.key_length", mainline ? hp.kv_lora_rank + hp.qk_rope : hp.qk_nope + hp.qk_rope);
  u32("attention.value_length", mainline ? hp.kv_lora_rank : hp.v_head_dim);
  if (mainline) {
    u32("attention.key_length_mla", hp.qk_nope + hp.qk_rope);
    u32("attention.value_length_mla", hp.v_head_dim);
  }
  u32("expert_feed_forward_length", hp.n_ff_exp);
  u32("expert_count", hp.n_expert);
  u32("expert_shared_count", hp.n_expert_shared);
  f32("expert_weights_scale", hp.expert_weights_scale);
  p->kv.emplace_back(a + "expert_weights_norm", GgufValue::make_bool(hp.expert_weights_norm));
  u32("expert_gating_func", hp.gating_func);
  if (hp.n_group > 0) {
    u32("expert_group_count", hp.n_group);
    u32("expert_group_used_count", hp.n_group_used);
  }
  u32("rope.dimension_count", hp.qk_rope);
  if (hp.yarn) {
    p->kv.emplace_back(a + "rope.scaling.type", GgufValue::make_str("yarn"));
    f32("rope.scaling.factor", hp.yarn_factor);
    u32("rope.scaling.original_context_length", hp.yarn_orig_ctx);
    f32("rope.scaling.yarn_log_multiplier", hp.yarn_log_mul);
  }
  if (hp.idx_top_k > 0) {
    u32("attention.indexer.head_count", hp.idx_n_head);
    u32("attention.indexer.key_length", hp.idx_head_dim);
    u32("attention.indexer.top_k", hp.idx_top_k);
    f32("attention.layer_norm_epsilon", 1e-6f);
  }
}

}  // namespace

int64_t TensorPlan::rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < ne.size(); ++i) n *= ne[i];
  return n;
}

ModelPlan plan_model(const SynthOptions& opt) {
  ModelPlan p;
  p.hp = synth_preset(opt.arch, opt.preset);
  SynthHparams& hp = p.hp;
  if (opt.n_layers < 0) throw std::runtime_error("--layers must be positive");
  if (opt.n_layers > 0) hp.n_layer = opt.n_layers;
  hp.n_leading_dense = std::min(hp.n_leading_dense, hp.n_layer);
  if (opt.mla_layout != MlaFileLayout::Legacy && !is_mla_arch(hp.arch))
    throw std::runtime_error("--mla-layout applies to deepseek2 and deepseek32 only");

  SynthVocab vocab = opt.tokenizer_json.empty()
                         ? vocab_synthetic(hp.n_vocab, hp.bos_id, hp.eos_id,
                                           opt.tokenizer_pre.empty() ? default_pre(hp) : opt.tokenizer_pre)
                         : vocab_from_hf(opt.tokenizer_json, hp.n_vocab, opt.tokenizer_pre);
  hp.n_vocab = vocab.n_vocab;

  p.kv.emplace_back("general.architecture", GgufValue::make_str(hp.arch));
  p.kv.emplace_back("general.name", GgufValue::make_str("qiusuo synthetic " + hp.preset + " (random weights)"));
  p.kv.emplace_back("general.alignment", GgufValue::make_u32(32));
  arch_metadata(opt, hp, &p);
  p.kv.emplace_back("general.file_type", GgufValue::make_u32(llama_file_type(opt.type)));
  if (!is_float_type(opt.type)) p.kv.emplace_back("general.quantization_version", GgufValue::make_u32(2));
  for (auto& kv : vocab.kv) p.kv.push_back(std::move(kv));
  p.kv.emplace_back("qiusuo.synthetic", GgufValue::make_bool(true));
  p.kv.emplace_back("qiusuo.seed", GgufValue::make_u64(opt.seed));
  p.kv.emplace_back("qiusuo.preset", GgufValue::make_str(hp.preset));

  Planner(opt, &p).tensors();
  return p;
}

void generate_rows(const TensorPlan& t, uint64_t seed, const SynthHparams& hp, int64_t r0, int64_t r1, float* out) {
  const int64_t n = t.ne[0];
  switch (t.fill) {
    case Fill::Normal: {
      const uint64_t ts = tensor_seed(seed, t.name);
      for (int64_t r = r0; r < r1; ++r) {
        Xoshiro256 rng(row_seed(ts, static_cast<uint64_t>(r)));
        float* o = out + (r - r0) * n;
        for (int64_t j = 0; j < n; ++j) o[j] = t.mean + t.sigma * rng.normal();
      }
      return;
    }
    case Fill::RopeFreqs: {
      const auto f = llama3_rope_factors(hp.rope_theta, hp.head_dim, {hp.l3_factor, hp.l3_low, hp.l3_high, hp.l3_orig_ctx});
      std::copy(f.begin(), f.end(), out);
      return;
    }
    case Fill::VFromKvb: {  // row (h, v) is kv_b row h*(d_n+d_v) + d_n + v
      const uint64_t ts = tensor_seed(seed, t.src);
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t h = r / t.d_v, v = r % t.d_v;
        Xoshiro256 rng(row_seed(ts, static_cast<uint64_t>(h * (t.d_n + t.d_v) + t.d_n + v)));
        float* o = out + (r - r0) * n;
        for (int64_t j = 0; j < n; ++j) o[j] = t.src_sigma * rng.normal();
      }
      return;
    }
    case Fill::KFromKvb: {  // rows (h, c) of W_UK[h]^T: element n is kv_b[h*(d_n+d_v) + n][c]
      const uint64_t ts = tensor_seed(seed, t.src);
      for (int64_t g = r0 / t.d_c; g < r1 / t.d_c; ++g) {
        float* o = out + (g * t.d_c - r0) * n;
        for (int64_t k = 0; k < t.d_n; ++k) {
          Xoshiro256 rng(row_seed(ts, static_cast<uint64_t>(g * (t.d_n + t.d_v) + k)));
          for (int64_t c = 0; c < t.d_c; ++c) o[c * n + k] = t.src_sigma * rng.normal();
        }
      }
      return;
    }
  }
}

}  // namespace qs
