// Which GGUF tensors a checkpoint becomes, under llama.cpp's names, and from which checkpoint tensors:
// experts merged into one 3-D tensor per projection, DeepSeek's kv_b_proj split into attn_k_b (per head
// transposed) and attn_v_b (the current MLA layout), the MTP layer kept as blk.N.nextn.*.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "convert/hf_config.h"
#include "convert/safetensors.h"
#include "tensor/ggml_type.h"

namespace qs {

enum class OutKind {
  Copy,        // one checkpoint tensor, rows as they are
  Experts,     // src[e] is expert e's matrix; written one after another
  KFromKvb,    // attn_k_b[h] = kv_b rows [h*(nope+v), +nope) transposed
  VFromKvb,    // attn_v_b[h] = kv_b rows [h*(nope+v)+nope, +v)
  RopeRows,    // Llama q/k: each head's rows from HF's halves order to GGUF's adjacent pairs
  Computed,    // values computed from config.json (Llama-3's rope_freqs)
};

struct OutTensor {
  std::string name;
  std::vector<int64_t> ne;  // ggml order
  GgmlType type = GgmlType::F32;
  OutKind kind = OutKind::Copy;
  std::vector<std::string> src;
  int64_t head_rows = 0;  // RopeRows: rows per head
  std::vector<float> values;  // Computed
};

// The output tensors in file order. Checks every checkpoint tensor's shape against config.json and that
// every tensor in the checkpoint is used (a *_scale_inv with its weight); throws CheckpointError.
// `weight_type` is used for matrices; 1-D tensors, the router and its bias stay F32, and a matrix whose
// rows do not fit the type's blocks falls back as llama.cpp's quantizer does (quant_fallback_type).
std::vector<OutTensor> plan_tensors(const HfConfig& c, const Checkpoint& ck, GgmlType weight_type);

}  // namespace qs
