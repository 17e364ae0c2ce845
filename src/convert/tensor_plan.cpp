#include "convert/tensor_plan.h"

#include <set>

#include "gguf/llama3_rope.h"
#include "tensor/quants.h"

namespace qs {

namespace {

class Planner {
 public:
  Planner(const HfConfig& c, const Checkpoint& ck, GgmlType t) : c_(c), ck_(ck), type_(t) {}

  std::vector<OutTensor> run() {
    matrix("token_embd.weight", "model.embed_tokens.weight", {c_.hidden, c_.vocab});
    if (c_.llama3_rope) {
      const float theta = static_cast<float>(c_.rope_theta);
      push("rope_freqs.weight", {c_.head_dim / 2}, GgmlType::F32, OutKind::Computed, {});
      out_.back().values = llama3_rope_factors(theta, c_.head_dim, {c_.l3_factor, c_.l3_low, c_.l3_high, c_.l3_orig_ctx});
    }
    const int64_t n_blocks = c_.n_layer + c_.n_nextn;
    for (int64_t il = 0; il < n_blocks; ++il) {
      const std::string b = "blk." + std::to_string(il) + ".", h = "model.layers." + std::to_string(il) + ".";
      if (c_.deepseek()) deepseek_block(il, b, h);
      else gqa_block(b, h);
    }
    vec("output_norm.weight", "model.norm.weight", c_.hidden);
    if (ck_.find("lm_head.weight")) matrix("output.weight", "lm_head.weight", {c_.hidden, c_.vocab});
    else if (!c_.tie_embeddings) throw CheckpointError("the checkpoint has no lm_head.weight and tie_word_embeddings is false");
    for (const auto& [name, t] : ck_.tensors())
      if (!used_.count(name) && name.find("rotary_emb.inv_freq") == std::string::npos)
        throw CheckpointError("the checkpoint holds " + name + ", which the " + c_.hf_arch + " conversion does not know");
    return std::move(out_);
  }

 private:
  // The checkpoint tensor `name`, which must have `shape` (PyTorch order).
  const StTensor& src(const std::string& name, const std::vector<int64_t>& shape) {
    const StTensor& t = ck_.at(name);
    if (t.shape != shape) {
      auto str = [](const std::vector<int64_t>& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      throw CheckpointError(name + " has shape " + str(t.shape) + " but config.json implies " + str(shape));
    }
    used_.insert(name);
    if (t.dtype == StDtype::F8_E4M3) used_.insert(name + "_scale_inv");
    return t;
  }

  GgmlType matrix_type(int64_t ne0) const { return quant_fallback_type(type_, ne0); }

  void push(const std::string& name, std::vector<int64_t> ne, GgmlType type, OutKind kind, std::vector<std::string> srcs) {
    OutTensor t;
    t.name = name;
    t.ne = std::move(ne);
    t.type = type;
    t.kind = kind;
    t.src = std::move(srcs);
    out_.push_back(std::move(t));
  }
  // A [rows, cols] weight: ne = {cols, rows}.
  void matrix(const std::string& name, const std::string& hf, std::vector<int64_t> ne) {
    src(hf, {ne[1], ne[0]});
    push(name, ne, matrix_type(ne[0]), OutKind::Copy, {hf});
  }
  void vec(const std::string& name, const std::string& hf, int64_t n) {
    src(hf, {n});
    push(name, {n}, GgmlType::F32, OutKind::Copy, {hf});
  }
  void vec_f32_matrix(const std::string& name, const std::string& hf, std::vector<int64_t> ne) {
    src(hf, {ne[1], ne[0]});
    push(name, ne, GgmlType::F32, OutKind::Copy, {hf});
  }
  void experts(const std::string& name, const std::string& prefix, const std::string& proj, int64_t cols, int64_t rows) {
    std::vector<std::string> s;
    for (int64_t e = 0; e < c_.n_expert; ++e) {
      s.push_back(prefix + "mlp.experts." + std::to_string(e) + "." + proj + ".weight");
      src(s.back(), {rows, cols});
    }
    push(name, {cols, rows, c_.n_expert}, matrix_type(cols), OutKind::Experts, s);
  }
  void ffn(const std::string& b, const std::string& hf, const std::string& suffix, int64_t ff) {
    matrix(b + "ffn_gate" + suffix + ".weight", hf + "gate_proj.weight", {c_.hidden, ff});
    matrix(b + "ffn_up" + suffix + ".weight", hf + "up_proj.weight", {c_.hidden, ff});
    matrix(b + "ffn_down" + suffix + ".weight", hf + "down_proj.weight", {ff, c_.hidden});
  }

  void deepseek_block(int64_t il, const std::string& b, const std::string& h) {
    const int64_t d = c_.hidden, H = c_.n_head, dn = c_.qk_nope, dr = c_.qk_rope, dv = c_.v_head, dc = c_.kv_lora;
    vec(b + "attn_norm.weight", h + "input_layernorm.weight", d);
    if (c_.q_lora > 0) {
      matrix(b + "attn_q_a.weight", h + "self_attn.q_a_proj.weight", {d, c_.q_lora});
      vec(b + "attn_q_a_norm.weight", h + "self_attn.q_a_layernorm.weight", c_.q_lora);
      matrix(b + "attn_q_b.weight", h + "self_attn.q_b_proj.weight", {c_.q_lora, H * (dn + dr)});
    } else {
      matrix(b + "attn_q.weight", h + "self_attn.q_proj.weight", {d, H * (dn + dr)});
    }
    matrix(b + "attn_kv_a_mqa.weight", h + "self_attn.kv_a_proj_with_mqa.weight", {d, dc + dr});
    vec(b + "attn_kv_a_norm.weight", h + "self_attn.kv_a_layernorm.weight", dc);
    const std::string kvb = h + "self_attn.kv_b_proj.weight";
    src(kvb, {H * (dn + dv), dc});
    push(b + "attn_k_b.weight", {dn, dc, H}, matrix_type(dn), OutKind::KFromKvb, {kvb});
    push(b + "attn_v_b.weight", {dc, dv, H}, matrix_type(dc), OutKind::VFromKvb, {kvb});
    matrix(b + "attn_output.weight", h + "self_attn.o_proj.weight", {H * dv, d});
    vec(b + "ffn_norm.weight", h + "post_attention_layernorm.weight", d);
    if (il < c_.first_dense) {
      ffn(b, h + "mlp.", "", c_.ff);
    } else {
      vec_f32_matrix(b + "ffn_gate_inp.weight", h + "mlp.gate.weight", {d, c_.n_expert});
      if (ck_.find(h + "mlp.gate.e_score_correction_bias")) vec(b + "exp_probs_b.bias", h + "mlp.gate.e_score_correction_bias", c_.n_expert);
      experts(b + "ffn_gate_exps.weight", h, "gate_proj", d, c_.moe_ff);
      experts(b + "ffn_up_exps.weight", h, "up_proj", d, c_.moe_ff);
      experts(b + "ffn_down_exps.weight", h, "down_proj", c_.moe_ff, d);
      if (c_.n_shared > 0) ffn(b, h + "mlp.shared_experts.", "_shexp", c_.moe_ff * c_.n_shared);
    }
    if (il < c_.n_layer) return;
    // The multi-token-prediction layer's own tensors (the forward pass skips the layer).
    matrix(b + "nextn.embed_tokens.weight", h + "embed_tokens.weight", {d, c_.vocab});
    vec(b + "nextn.enorm.weight", h + "enorm.weight", d);
    vec(b + "nextn.hnorm.weight", h + "hnorm.weight", d);
    matrix(b + "nextn.eh_proj.weight", h + "eh_proj.weight", {2 * d, d});
    vec(b + "nextn.shared_head_norm.weight", h + "shared_head.norm.weight", d);
    matrix(b + "nextn.shared_head_head.weight", h + "shared_head.head.weight", {d, c_.vocab});
  }

  void gqa_block(const std::string& b, const std::string& h) {
    const int64_t d = c_.hidden, q = c_.n_head * c_.head_dim, kv = c_.n_head_kv * c_.head_dim;
    vec(b + "attn_norm.weight", h + "input_layernorm.weight", d);
    matrix(b + "attn_q.weight", h + "self_attn.q_proj.weight", {d, q});
    matrix(b + "attn_k.weight", h + "self_attn.k_proj.weight", {d, kv});
    if (c_.gguf_arch == "llama") {  // llama.cpp's converter permutes these for its adjacent-pair RoPE
      out_[out_.size() - 2].kind = out_.back().kind = OutKind::RopeRows;
      out_[out_.size() - 2].head_rows = out_.back().head_rows = c_.head_dim;
    }
    matrix(b + "attn_v.weight", h + "self_attn.v_proj.weight", {d, kv});
    for (const auto& [p, n] : {std::pair<const char*, int64_t>{"q", q}, {"k", kv}, {"v", kv}})
      if (ck_.find(h + "self_attn." + p + "_proj.bias")) vec(b + "attn_" + p + ".bias", h + "self_attn." + p + "_proj.bias", n);
    matrix(b + "attn_output.weight", h + "self_attn.o_proj.weight", {q, d});
    vec(b + "ffn_norm.weight", h + "post_attention_layernorm.weight", d);
    ffn(b, h + "mlp.", "", c_.ff);
  }

  const HfConfig& c_;
  const Checkpoint& ck_;
  GgmlType type_;
  std::set<std::string> used_;
  std::vector<OutTensor> out_;
};

}  // namespace

std::vector<OutTensor> plan_tensors(const HfConfig& c, const Checkpoint& ck, GgmlType weight_type) {
  return Planner(c, ck, weight_type).run();
}

}  // namespace qs
