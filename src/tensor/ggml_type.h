// Tensor element types as numbered by GGUF/ggml, and what we know about each.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace qs {

// Values are the on-disk ggml_type ids; never renumber.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TypeTraits {
  std::string_view name;  // "Q4_K"
  int64_t block_size;     // elements per block (1 for float types)
  size_t type_size;       // bytes per block
  bool storable;          // accepted as a weight type in model files
};

// Traits of a raw id read from a file; nullopt for ids we do not know.
std::optional<TypeTraits> type_traits(uint32_t id);
const TypeTraits& traits(GgmlType t);
std::optional<GgmlType> type_from_name(std::string_view name);  // case-insensitive "q8_0"

// llama.cpp's llama_ftype (general.file_type) of a file whose matrices are mostly `t` (the "_S" mix for
// K-quants); 0 (all F32) for types without one.
uint32_t llama_file_type(GgmlType t);

// Bytes of a row of n elements; n must be a multiple of the block size (checked by callers).
inline size_t row_bytes(GgmlType t, int64_t n) {
  const TypeTraits& tt = traits(t);
  return static_cast<size_t>(n / tt.block_size) * tt.type_size;
}

}  // namespace qs
