// Synthetic models: GGUF files shaped exactly like real DeepSeek-V3 / V2-Lite / R1-Distill models (or
// tiny versions of them) filled with seeded random weights, for tests and benchmarks without downloads.
#pragma once
#include <cstdint>
#include <string>

#include "synth/synth_presets.h"
#include "tensor/ggml_type.h"

namespace qs {

// How deepseek2 MLA attention is stored (doc §4.3): legacy = attn_kv_b only; ik = attn_kv_b plus 2-D
// attn_k_b/attn_v_b; mainline = 3-D attn_k_b/attn_v_b only, head_count_kv 1 and the *_mla keys.
enum class MlaFileLayout { Legacy, Ik, Mainline };
MlaFileLayout mla_layout_from_name(const std::string& name);  // throws listing the valid names

struct SynthOptions {
  std::string arch = "deepseek2";
  std::string preset = "tiny";
  int64_t n_layers = 0;              // 0: the preset's layer count
  GgmlType type = GgmlType::F16;     // weight matrices; norms, biases, router, exp_probs_b stay F32
  uint64_t seed = 42;
  std::string tokenizer_json;        // Hugging Face tokenizer.json; empty: a synthetic byte vocabulary
  std::string tokenizer_pre;         // overrides the detected tokenizer.ggml.pre
  MlaFileLayout mla_layout = MlaFileLayout::Legacy;
  int threads = 0;                   // 0: all cores (QIUSUO_THREADS)
  std::string output;
};

struct SynthResult {
  uint64_t n_params = 0;   // elements over all tensors
  uint64_t n_bytes = 0;    // file size
  size_t n_tensors = 0;
  int64_t n_vocab = 0;
  double seconds = 0;
};

// Weight types accepted for synthesis ("F16", "Q8_0", ...), for error messages.
const char* synth_type_names();
GgmlType synth_type_from_name(const std::string& name);  // throws listing the valid names

SynthResult write_synthetic_model(const SynthOptions& opt);

}  // namespace qs
