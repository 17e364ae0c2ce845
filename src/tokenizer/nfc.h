// Unicode NFC normalisation (utf8proc), as the "NFC" normalizer of HF `tokenizers` applies it
// (Qwen2 vocabularies, hence the R1-Distill-Qwen models).
#pragma once
#include <string>
#include <string_view>

namespace qs {

// The NFC form of text: a view of text itself when that is already NFC (checked cheaply: text
// with no byte >= 0xCC holds no code point >= U+0300, and all of those are NFC-stable), else a
// view of storage, which receives the normalised bytes. Text that is not valid UTF-8 (which HF
// cannot even receive: its strings are Rust `str`) is returned unchanged, as raw bytes for the
// byte-level BPE; utf8proc's error is never an exception. Never throws except std::bad_alloc.
std::string_view nfc_normalize(std::string_view text, std::string& storage);

}  // namespace qs
