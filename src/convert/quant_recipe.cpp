#include "convert/quant_recipe.h"

#include <cstdlib>
#include <stdexcept>

#include "tensor/quants.h"
#include "util/ascii.h"

namespace qs {

namespace {

constexpr GgmlType kPlain[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q6_K,
                               GgmlType::Q5_K, GgmlType::Q4_K, GgmlType::Q3_K, GgmlType::Q2_K, GgmlType::Q5_0,
                               GgmlType::Q5_1, GgmlType::Q4_0, GgmlType::Q4_1};

GgmlType plain_type(const std::string& s) {
  const auto t = type_from_name(s);
  for (GgmlType p : kPlain)
    if (t && *t == p) return p;
  throw std::invalid_argument("unknown quantization type '" + s + "' (valid: " + QuantRecipe::names() + ")");
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// The N of "blk.N.", -1 for other names.
int layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::atoi(name.c_str() + 4);
}

}  // namespace

bool use_more_bits(int layer, int n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

const char* QuantRecipe::names() {
  return "q4_k_m, q5_k_m, q3_k_m, q4_k_s, q5_k_s, q3_k_s, q8_0, q6_k, q5_k, q4_k, q3_k, q2_k, q5_0, q5_1, q4_0, q4_1, bf16, f16, f32";
}

QuantRecipe::QuantRecipe(const std::string& name) : name_(ascii_lower(name)) {
  const size_t n = name_.size();
  if (n > 4 && name_[n - 2] == '_' && (name_[n - 1] == 'm' || name_[n - 1] == 's') && name_[n - 3] == 'k') {
    base_ = plain_type(name_.substr(0, n - 2));
    if (base_ != GgmlType::Q3_K && base_ != GgmlType::Q4_K && base_ != GgmlType::Q5_K)
      throw std::invalid_argument("unknown quantization type '" + name + "' (valid: " + names() + ")");
    mix_ = name_[n - 1] == 'm' ? Mix::K_M : Mix::K_S;
  } else {
    base_ = plain_type(name_);
  }
}

void QuantRecipe::add_override(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--tensor-type wants REGEX=TYPE, got '" + spec + "'");
  Override o;
  try {
    o.re = std::make_shared<Regex>(spec.substr(0, eq));
  } catch (const RegexError& e) {
    throw std::invalid_argument("--tensor-type '" + spec + "': " + e.what());
  }
  o.type = plain_type(spec.substr(eq + 1));
  overrides_.push_back(std::move(o));
}

uint32_t QuantRecipe::file_type() const {
  if (mix_ == Mix::None) return llama_file_type(base_);
  switch (base_) {  // llama_ftype's _S / _M values
    case GgmlType::Q3_K: return mix_ == Mix::K_M ? 12 : 11;
    case GgmlType::Q4_K: return mix_ == Mix::K_M ? 15 : 14;
    case GgmlType::Q5_K: return mix_ == Mix::K_M ? 17 : 16;
    default: return llama_file_type(base_);
  }
}

GgmlType QuantRecipe::type_for(const std::string& name, const std::vector<int64_t>& ne, GgmlType current, int n_layer) const {
  if (ne.size() < 2 || has(name, "ffn_gate_inp") || has(name, "_norm")) return current;
  GgmlType t = base_;
  const bool quant = base_ != GgmlType::F32 && base_ != GgmlType::F16 && base_ != GgmlType::BF16;
  const int il = layer_of(name);
  if (quant && name == "output.weight") {
    t = ne[0] % 256 == 0 && base_ != GgmlType::Q8_0 ? GgmlType::Q6_K : GgmlType::Q8_0;
  } else if (mix_ != Mix::None && il >= 0 && il < n_layer) {
    const bool value = has(name, "attn_v.") || has(name, "attn_v_b.") || has(name, "attn_kv_b.");
    const bool down = has(name, "ffn_down");
    if (value) {
      if (base_ == GgmlType::Q3_K) t = mix_ == Mix::K_M ? (il < 2 ? GgmlType::Q5_K : GgmlType::Q4_K) : t;
      else if (mix_ == Mix::K_M && use_more_bits(il, n_layer)) t = GgmlType::Q6_K;
      else if (mix_ == Mix::K_S && base_ == GgmlType::Q4_K && il < 4) t = GgmlType::Q5_K;
    } else if (down) {
      if (base_ == GgmlType::Q3_K && mix_ == Mix::K_M)
        t = il < n_layer / 16 ? GgmlType::Q5_K : use_more_bits(il, n_layer) ? GgmlType::Q4_K : GgmlType::Q3_K;
      else if (mix_ == Mix::K_M && use_more_bits(il, n_layer)) t = GgmlType::Q6_K;
      else if (mix_ == Mix::K_S && base_ == GgmlType::Q4_K && il < n_layer / 8) t = GgmlType::Q5_K;
    } else if (has(name, "attn_output") && base_ == GgmlType::Q3_K && mix_ == Mix::K_M) {
      t = GgmlType::Q4_K;
    }
  }
  for (const auto& o : overrides_) {
    bool hit = false;
    o.re->for_each_match(name, [&](size_t, size_t) { hit = true; });
    if (hit) t = o.type;
  }
  return quant_fallback_type(t, ne[0]);
}

}  // namespace qs
