// Small UTF-8 helpers for the tokenizer: sequence lengths and where a byte string stops being
// complete. Invalid bytes are never an error here; callers treat them as single opaque bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qs {

// Length of the sequence a lead byte announces (1-4), or 0 for a continuation/invalid byte.
inline int utf8_seq_len(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Number of leading bytes of s that end on a character boundary: a trailing lead byte whose
// continuation bytes have not all arrived yet is excluded (it may still complete); everything else,
// including invalid bytes, counts as complete.
size_t utf8_complete_prefix(std::string_view s);

// Length in bytes of the character starting at s[i] (1 for an invalid byte), never past the end.
size_t utf8_char_len(std::string_view s, size_t i);

// Appends the UTF-8 encoding of cp (cp must be a valid scalar value).
void utf8_append(std::string& out, uint32_t cp);

}  // namespace qs
