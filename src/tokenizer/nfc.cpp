#include "tokenizer/nfc.h"

#include <cstdlib>
#include <memory>
#include <new>

#include <utf8proc.h>

namespace qs {

namespace {
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
}  // namespace

std::string_view nfc_normalize(std::string_view text, std::string& storage) {
  bool ascii_like = true;  // every code point below U+0300 (or invalid bytes: unchanged anyway)
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0xCC) {
      ascii_like = false;
      break;
    }
  if (ascii_like) return text;
  // An explicit length (no UTF8PROC_NULLTERM), so that NUL bytes are ordinary characters.
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  const std::unique_ptr<utf8proc_uint8_t, FreeDeleter> owned(out);  // malloc'ed by utf8proc; null on error
  if (n < 0) {
    if (n == UTF8PROC_ERROR_NOMEM) throw std::bad_alloc();
    return text;  // UTF8PROC_ERROR_INVALIDUTF8 (or _OVERFLOW): keep the raw bytes
  }
  storage.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  return storage;
}

}  // namespace qs
