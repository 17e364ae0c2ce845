// Helpers shared by the CLI verbs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/ggml_type.h"

namespace qs::cli {

// "0,5,9" or "0 5 9" -> ids; throws std::invalid_argument naming the bad item.
std::vector<int32_t> parse_token_list(const std::string& s);
// --cache-type: f16 (default), bf16, q8_0 or f32.
qs::GgmlType parse_cache_type(const std::string& s);
// Applies --threads (0 keeps the default).
void apply_threads(int n);

}  // namespace qs::cli
