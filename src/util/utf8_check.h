// Strict UTF-8 validation for text that must be text (GGUF strings, chat templates).
#pragma once
#include <cstddef>
#include <string_view>

namespace qs {

// Index of the first byte that does not belong to a well-formed UTF-8 sequence (no overlongs,
// surrogates or code points past U+10FFFF), or std::string_view::npos.
size_t first_invalid_utf8(std::string_view s);

}  // namespace qs
