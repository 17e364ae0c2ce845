#include "model/weights.h"

#include <set>
#include <sstream>

#include "gguf/gguf_file.h"
#include "tensor/quants.h"

namespace qs {

namespace {

std::string shape_str(const std::vector<int64_t>& ne) {
  std::ostringstream os;
  os << "{";
  for (size_t i = 0; i < ne.size(); ++i) os << (i ? ", " : "") << ne[i];
  os << "}";
  return os.str();
}

// Looks tensors up by name and shape, remembering which ones the model uses.
class Binder {
 public:
  Binder(const GgufFile& f) : f_(f) {}

  const GgufTensorInfo* find(const std::string& name) const {
    used_.insert(name);
    return f_.find_tensor(name);
  }

  const GgufTensorInfo& need(const std::string& name, const std::vector<int64_t>& ne) const {
    used_.insert(name);
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (!t) throw GgufError(f_.path() + ": missing tensor '" + name + "' " + shape_str(ne));
    if (t->ne != ne)
      throw GgufError(f_.path() + ": tensor '" + name + "' has shape " + shape_str(t->ne) + ", expected " + shape_str(ne));
    return *t;
  }
  // A 2-D (or flattened 3-D) matrix with rows of `cols` elements.
  MatView mat(const std::string& name, const std::vector<int64_t>& ne) const {
    const GgufTensorInfo& t = need(name, ne);
    MatView m;
    m.data = t.data;
    m.type = t.type;
    m.cols = t.ne[0];
    m.rows = t.rows();
    m.row_stride = row_bytes(t.type, m.cols);
    return m;
  }
  MatView opt_mat(const std::string& name, const std::vector<int64_t>& ne) const {
    return find(name) ? mat(name, ne) : MatView{};
  }
  std::vector<float> vec(const std::string& name, int64_t n) const {
    const GgufTensorInfo& t = need(name, {n});
    std::vector<float> v(static_cast<size_t>(n));
    dequantize_row(t.type, t.data, v.data(), n);
    return v;
  }
  std::vector<float> opt_vec(const std::string& name, int64_t n) const {
    return find(name) ? vec(name, n) : std::vector<float>{};
  }

  // The file's tensors never looked up, in file order.
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& t : f_.tensors())
      if (!used_.count(t.name)) out.push_back(t.name);
    return out;
  }

 private:
  const GgufFile& f_;
  mutable std::set<std::string> used_;
};

void bind_ffn(const Binder& b, const std::string& p, const ModelConfig& c, LayerWeights& L) {
  L.ffn_gate = b.mat(p + "ffn_gate.weight", {c.n_embd, c.n_ff});
  L.ffn_up = b.mat(p + "ffn_up.weight", {c.n_embd, c.n_ff});
  L.ffn_down = b.mat(p + "ffn_down.weight", {c.n_ff, c.n_embd});
}

void bind_moe(const Binder& b, const std::string& p, const ModelConfig& c, LayerWeights& L) {
  const int64_t d = c.n_embd, f = c.n_ff_exp, E = c.n_expert;
  L.gate_inp = b.mat(p + "ffn_gate_inp.weight", {d, E});
  L.exp_probs_b = b.opt_vec(p + "exp_probs_b.bias", E);
  if (b.find(p + "ffn_gate_up_exps.weight")) {  // fused: per expert gate rows, then up rows
    MatView all = b.mat(p + "ffn_gate_up_exps.weight", {d, 2 * f, E});
    L.gate_exps = {all, 2 * f, 0, f};
    L.up_exps = {all, 2 * f, f, f};
  } else {
    L.gate_exps = {b.mat(p + "ffn_gate_exps.weight", {d, f, E}), f, 0, f};
    L.up_exps = {b.mat(p + "ffn_up_exps.weight", {d, f, E}), f, 0, f};
  }
  L.down_exps = {b.mat(p + "ffn_down_exps.weight", {f, d, E}), d, 0, d};
  if (c.n_expert_shared > 0) {
    const int64_t fs = f * c.n_expert_shared;
    L.gate_shexp = b.mat(p + "ffn_gate_shexp.weight", {d, fs});
    L.up_shexp = b.mat(p + "ffn_up_shexp.weight", {d, fs});
    L.down_shexp = b.mat(p + "ffn_down_shexp.weight", {fs, d});
  }
}

void bind_mla(const Binder& b, const std::string& p, const ModelConfig& c, LayerWeights& L) {
  const int64_t d = c.n_embd, H = c.n_head, dn = c.qk_nope, dr = c.qk_rope, dv = c.head_dim_v, dc = c.kv_lora_rank;
  if (c.q_lora_rank > 0) {
    L.wq_a = b.mat(p + "attn_q_a.weight", {d, c.q_lora_rank});
    L.q_a_norm = b.vec(p + "attn_q_a_norm.weight", c.q_lora_rank);
    L.wq_b = b.mat(p + "attn_q_b.weight", {c.q_lora_rank, H * (dn + dr)});
  } else {
    L.wq = b.mat(p + "attn_q.weight", {d, H * (dn + dr)});
  }
  L.wkv_a = b.mat(p + "attn_kv_a_mqa.weight", {d, dc + dr});
  L.kv_a_norm = b.vec(p + "attn_kv_a_norm.weight", dc);
  if (b.find(p + "attn_kv_b.weight")) {
    L.mla_layout = MlaLayout::KvB;
    L.wkv_b = b.mat(p + "attn_kv_b.weight", {dc, H * (dn + dv)});
  } else {
    L.mla_layout = MlaLayout::KbVb;
    const GgufTensorInfo* kb = b.find(p + "attn_k_b.weight");
    if (!kb) throw GgufError("missing tensor '" + p + "attn_kv_b.weight' (or attn_k_b/attn_v_b)");
    if (kb->ne.size() == 3) {
      L.wk_b = b.mat(p + "attn_k_b.weight", {dn, dc, H});
      L.wv_b = b.mat(p + "attn_v_b.weight", {dc, dv, H});
    } else {
      L.wk_b = b.mat(p + "attn_k_b.weight", {dn, H * dc});
      L.wv_b = b.mat(p + "attn_v_b.weight", {dc, H * dv});
    }
  }
  L.wo = b.mat(p + "attn_output.weight", {H * dv, d});
  if (c.has_indexer()) {
    if (c.q_lora_rank == 0) throw GgufError("the DSA indexer needs q-LoRA (attention.q_lora_rank > 0)");
    const int64_t ih = c.idx_n_head, id = c.idx_head_dim;
    L.idx_wq_b = b.mat(p + "indexer.attn_q_b.weight", {c.q_lora_rank, ih * id});
    L.idx_wk = b.mat(p + "indexer.attn_k.weight", {d, id});
    L.idx_k_norm = b.vec(p + "indexer.k_norm.weight", id);
    L.idx_k_norm_b = b.vec(p + "indexer.k_norm.bias", id);
    L.idx_proj = b.mat(p + "indexer.proj.weight", {d, ih});
  }
}

void bind_gqa(const Binder& b, const std::string& p, const ModelConfig& c, LayerWeights& L) {
  const int64_t d = c.n_embd, qd = int64_t{c.n_head} * c.head_dim_k, kd = int64_t{c.n_head_kv} * c.head_dim_k,
                vd = int64_t{c.n_head_kv} * c.head_dim_v;
  L.wq = b.mat(p + "attn_q.weight", {d, qd});
  L.wk = b.mat(p + "attn_k.weight", {d, kd});
  L.wv = b.mat(p + "attn_v.weight", {d, vd});
  L.bq = b.opt_vec(p + "attn_q.bias", qd);
  L.bk = b.opt_vec(p + "attn_k.bias", kd);
  L.bv = b.opt_vec(p + "attn_v.bias", vd);
  L.wo = b.mat(p + "attn_output.weight", {int64_t{c.n_head} * c.head_dim_v, d});
}

}  // namespace

MatView LayerWeights::uk(int h, const ModelConfig& c) const {
  if (mla_layout == MlaLayout::KvB) return wkv_b.slice_rows(int64_t{h} * (c.qk_nope + c.head_dim_v), c.qk_nope);
  return wk_b.slice_rows(int64_t{h} * c.kv_lora_rank, c.kv_lora_rank);
}

MatView LayerWeights::uv(int h, const ModelConfig& c) const {
  if (mla_layout == MlaLayout::KvB)
    return wkv_b.slice_rows(int64_t{h} * (c.qk_nope + c.head_dim_v) + c.qk_nope, c.head_dim_v);
  return wv_b.slice_rows(int64_t{h} * c.head_dim_v, c.head_dim_v);
}

ModelWeights bind_weights(const GgufFile& f, const ModelConfig& c) {
  Binder b(f);
  ModelWeights w;
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (!emb) throw GgufError(f.path() + ": missing tensor 'token_embd.weight'");
  if (emb->ne.size() != 2 || emb->ne[0] != c.n_embd)
    throw GgufError(f.path() + ": tensor 'token_embd.weight' has shape " + shape_str(emb->ne) + ", expected {" +
                    std::to_string(c.n_embd) + ", n_vocab}");
  const int64_t n_vocab = emb->ne[1];
  w.tok_embd = b.mat("token_embd.weight", {c.n_embd, n_vocab});
  w.output_norm = b.vec("output_norm.weight", c.n_embd);
  if (b.find("output.weight")) {
    w.output = b.mat("output.weight", {c.n_embd, n_vocab});
  } else {
    w.output = w.tok_embd;
    w.output_tied = true;
  }
  if (b.find("rope_freqs.weight")) w.rope_freqs = b.vec("rope_freqs.weight", c.n_rot / 2);

  w.layers.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    LayerWeights& L = w.layers[il];
    L.attn_norm = b.vec(p + "attn_norm.weight", c.n_embd);
    L.ffn_norm = b.vec(p + "ffn_norm.weight", c.n_embd);
    if (c.is_mla()) bind_mla(b, p, c, L);
    else bind_gqa(b, p, c, L);
    if (c.is_moe_layer(il)) bind_moe(b, p, c, L);
    else bind_ffn(b, p, c, L);
  }
  w.unused = b.unused();
  return w;
}

}  // namespace qs
