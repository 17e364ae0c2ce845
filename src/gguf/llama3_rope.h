// The `rope_freqs` tensor llama.cpp's converter writes for Llama-3 RoPE scaling (rope_scaling.rope_type
// "llama3"): one divisor per rotated pair, from convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors.
// Written by `convert` for real checkpoints and by `synth`.
#pragma once
#include <cstdint>
#include <vector>

namespace qs {

struct Llama3RopeScaling {
  float factor = 8.f, low_freq_factor = 1.f, high_freq_factor = 4.f;
  int64_t original_context = 8192;
};

// head_dim / 2 factors.
std::vector<float> llama3_rope_factors(float rope_theta, int64_t head_dim, const Llama3RopeScaling& s);

}  // namespace qs
