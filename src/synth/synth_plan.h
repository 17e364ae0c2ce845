// What a synthetic model file holds: the metadata keys and, per tensor, its shape, type and how its
// values are generated. synth.cpp turns a plan into bytes.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf_value.h"
#include "synth/synth.h"
#include "synth/synth_presets.h"

namespace qs {

// Scales of the random weights, all in one place so they can be tuned. Linear weights are
// N(0, (k / sqrt(fan_in))²), which keeps activations at unit RMS through each projection; the
// residual-side projections are smaller so the stream grows slowly with depth, and the LM head is
// sized for logits with a standard deviation of about kLmHead (final hidden state has unit RMS).
struct SynthScales {
  static constexpr float kEmbedding = 1.0f;    // token_embd: N(0, 1) rows
  static constexpr float kLinear = 1.0f;       // q/k/v, q_a/q_b, kv_a/kv_b, gate/up (dense, experts, shared)
  static constexpr float kResidualOut = 0.5f;  // attn_output, ffn_down (dense, experts, shared)
  static constexpr float kLmHead = 2.0f;       // output.weight: logits std ≈ 2
  static constexpr float kRouter = 2.0f;       // ffn_gate_inp: router logits std ≈ 2, so routing is peaked
  static constexpr float kExpProbsB = 0.05f;   // exp_probs_b: N(0, σ²) selection bias
  static constexpr float kNormNoise = 0.05f;   // norm weights: 1 + N(0, σ²)
  static constexpr float kQkvBias = 0.1f;      // qwen2 attn_{q,k,v}.bias
};

enum class Fill {
  Normal,     // mean + sigma * N(0, 1), one PRNG stream per row
  RopeFreqs,  // Llama-3 rope_freqs factors, computed
  KFromKvb,   // attn_k_b[h] = W_UK[h]^T from the (virtual) attn_kv_b rows
  VFromKvb,   // attn_v_b[h] = W_UV[h] from the (virtual) attn_kv_b rows
};

struct TensorPlan {
  std::string name;
  std::vector<int64_t> ne;  // ggml order
  GgmlType type = GgmlType::F32;
  Fill fill = Fill::Normal;
  float mean = 0.f;
  float sigma = 0.f;
  // KFromKvb / VFromKvb: the kv_b tensor whose values these derive from, and its sizes.
  std::string src;
  float src_sigma = 0.f;
  int64_t d_n = 0, d_v = 0, d_c = 0;

  int64_t rows() const;
  // Rows generated together (KFromKvb transposes a head at a time).
  int64_t group_rows() const { return fill == Fill::KFromKvb ? d_c : 1; }
};

struct ModelPlan {
  SynthHparams hp;  // after overrides (layer count, vocab size)
  std::vector<std::pair<std::string, GgufValue>> kv;
  std::vector<TensorPlan> tensors;
};

ModelPlan plan_model(const SynthOptions& opt);

// Fills rows [r0, r1) of t (r0, r1 multiples of group_rows) with values, ne[0] floats per row.
void generate_rows(const TensorPlan& t, uint64_t seed, const SynthHparams& hp, int64_t r0, int64_t r1, float* out);

}  // namespace qs
