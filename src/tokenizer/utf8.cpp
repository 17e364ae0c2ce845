#include "tokenizer/utf8.h"

namespace qs {

namespace {
bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }
}  // namespace

size_t utf8_char_len(std::string_view s, size_t i) {
  const int n = utf8_seq_len(static_cast<uint8_t>(s[i]));
  if (n <= 1 || i + n > s.size()) return 1;
  for (int k = 1; k < n; ++k)
    if (!is_cont(static_cast<uint8_t>(s[i + k]))) return 1;
  return static_cast<size_t>(n);
}

size_t utf8_complete_prefix(std::string_view s) {
  // Only the last 3 bytes can belong to an unfinished character.
  const size_t lo = s.size() > 3 ? s.size() - 3 : 0;
  for (size_t i = s.size(); i-- > lo;) {
    const auto b = static_cast<uint8_t>(s[i]);
    if (is_cont(b)) continue;
    const int n = utf8_seq_len(b);
    // A lead byte with too few continuations after it (all of them valid so far) may still finish.
    if (n > 1 && i + static_cast<size_t>(n) > s.size()) return i;
    return s.size();
  }
  return s.size();
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace qs
