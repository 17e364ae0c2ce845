// Named model tensors bound to typed views, with every shape checked against the config.
#pragma once
#include <string>
#include <vector>

#include "model/config.h"
#include "tensor/mat_view.h"

namespace qs {

class GgufFile;

// One matrix per expert inside a stacked 3-D tensor (or a fused gate+up tensor).
struct ExpertMat {
  MatView all;              // rows of every expert, one after another
  int64_t stride_rows = 0;  // rows from one expert to the next
  int64_t row_off = 0;      // first row of this matrix inside an expert's block
  int64_t rows = 0;
  MatView expert(int e) const { return all.slice_rows(e * stride_rows + row_off, rows); }
};

// How the MLA up-projections W_UK / W_UV are stored (the on-disk generations).
enum class MlaLayout {
  KvB,   // attn_kv_b [H·(d_n+d_v), d_c]: per head K rows then V rows
  KbVb,  // attn_k_b (W_UKᵀ per head: [H·d_c, d_n]) and attn_v_b (W_UV per head: [H·d_v, d_c])
};

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;
  MatView wo;
  // GQA (qwen2, llama)
  MatView wq, wk, wv;
  std::vector<float> bq, bk, bv;
  // MLA (deepseek2)
  MatView wq_a, wq_b, wkv_a;  // wq is reused for V2-Lite's plain attn_q
  std::vector<float> q_a_norm, kv_a_norm;
  MlaLayout mla_layout = MlaLayout::KvB;
  MatView wkv_b, wk_b, wv_b;
  MatView uk(int h, const ModelConfig& c) const;  // KvB: W_UK[h] [d_n, d_c]; KbVb: W_UKᵀ[h] [d_c, d_n]
  MatView uv(int h, const ModelConfig& c) const;  // W_UV[h] [d_v, d_c]
  // DSA lightning indexer (deepseek32)
  MatView idx_wq_b;  // [idx_n_head·idx_head_dim, q_lora_rank], reads MLA's normed q latent
  MatView idx_wk;    // [idx_head_dim, n_embd]
  std::vector<float> idx_k_norm, idx_k_norm_b;  // LayerNorm weight and bias
  MatView idx_proj;  // [idx_n_head, n_embd]: per-head weights of the scores
  // Dense FFN
  MatView ffn_gate, ffn_up, ffn_down;
  // MoE
  MatView gate_inp;
  std::vector<float> exp_probs_b;  // empty if absent
  ExpertMat gate_exps, up_exps, down_exps;
  MatView gate_shexp, up_shexp, down_shexp;
};

struct ModelWeights {
  MatView tok_embd;
  std::vector<float> output_norm;
  MatView output;  // tok_embd when the output is tied
  std::vector<float> rope_freqs;
  std::vector<LayerWeights> layers;
  bool output_tied = false;
  // Tensors in the file the forward pass does not read: MTP layers (blk.N.nextn.*), vision towers,
  // extras of newer converters. Listed by `info`, never an error.
  std::vector<std::string> unused;
};

ModelWeights bind_weights(const GgufFile& f, const ModelConfig& c);

}  // namespace qs
