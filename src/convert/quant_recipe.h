// Which type each tensor gets when a model is quantized: a base type or one of llama.cpp's mixes
// (Q4_K_M, Q5_K_M, Q3_K_M, Q4_K_S, Q5_K_S, Q3_K_S), then the user's --tensor-type overrides. The mixes
// follow llama.cpp's llama_tensor_get_type for the tensors DeepSeek, Qwen2 and Llama files hold; the value
// path of MLA (attn_kv_b, attn_v_b) is treated as attn_v.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/ggml_type.h"
#include "tokenizer/regex.h"

namespace qs {

class QuantRecipe {
 public:
  // "q4_k_m", "q8_0", "bf16", ...; throws std::invalid_argument listing the valid names.
  explicit QuantRecipe(const std::string& name);
  // "REGEX=TYPE" (REGEX searched in the tensor name, PCRE2 syntax); later overrides win.
  void add_override(const std::string& spec);

  // The type for tensor `name` (ggml shape `ne`) of a model with n_layer (non-MTP) layers; `current` is
  // its type in the input. 1-D tensors and the MoE router keep theirs.
  GgmlType type_for(const std::string& name, const std::vector<int64_t>& ne, GgmlType current, int n_layer) const;

  GgmlType base() const { return base_; }
  const std::string& name() const { return name_; }
  uint32_t file_type() const;  // general.file_type

  static const char* names();

 private:
  enum class Mix { None, K_S, K_M };
  std::string name_;
  GgmlType base_ = GgmlType::Q8_0;
  Mix mix_ = Mix::None;
  struct Override {
    std::shared_ptr<Regex> re;
    GgmlType type;
  };
  std::vector<Override> overrides_;
};

// llama.cpp's choice of the layers that get more bits in the _M mixes.
bool use_more_bits(int layer, int n_layer);

}  // namespace qs
