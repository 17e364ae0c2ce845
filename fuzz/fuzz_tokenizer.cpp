// Fuzzes the tokenizer (the deepseek-llm vocabulary) with arbitrary bytes: encode with and without
// special-token parsing, decode, and streaming detokenization through IncrementalDecoder.
// Invariants checked besides "no crash, no sanitizer report, no exception":
//  - every id is inside the vocabulary;
//  - decode(encode(x, parse_special=false)) == x for valid UTF-8 x (byte-level BPE is lossless and this
//    vocabulary does no NFC). Not for invalid UTF-8: the 13 bytes that never occur in UTF-8 (C0 C1
//    F5..FF) have no byte token in this vocabulary; their byte-level characters are user-defined added
//    tokens ("ÿ", ...) that decode as text, so such input comes back as that text (as in llama.cpp);
//  - IncrementalDecoder's steps concatenate to decode(ids), and with a stop string taken from the
//    input, the emitted text never contains the stop string.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/incremental_decoder.h"
#include "tokenizer/tokenizer.h"

#ifndef QIUSUO_FIXTURES_DIR
#error "QIUSUO_FIXTURES_DIR must be defined"
#endif

static const qs::Tokenizer* g_tok = nullptr;

static bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    else if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
    else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static std::optional<qs::Tokenizer> tok;
  tok.emplace(qs::Tokenizer::load(QIUSUO_FIXTURES_DIR "/vocab/ggml-vocab-deepseek-llm.gguf"));
  g_tok = &*tok;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // BPE is superlinear in a segment's length; long inputs only time out
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const qs::Tokenizer& tok = *g_tok;

  const std::vector<int32_t> plain = tok.encode(text, false, false);
  const std::vector<int32_t> special = tok.encode(text, true, true);
  for (int32_t id : plain)
    if (id < 0 || id >= tok.size()) __builtin_trap();
  for (int32_t id : special)
    if (id < 0 || id >= tok.size()) __builtin_trap();

  // Byte-level BPE without special parsing must round-trip exactly (this vocabulary does no NFC).
  const std::string back = tok.decode(plain);
  if (!tok.normalizes_nfc() && valid_utf8(text) && back != text) {
    std::fprintf(stderr, "round trip mismatch: %zu bytes in, %zu bytes out\n", text.size(), back.size());
    __builtin_trap();
  }
  (void)tok.decode(special, true);

  // Streaming: the concatenation of the steps must equal the decode (no stop strings), and with a stop
  // string taken from the input, must never contain it.
  {
    qs::IncrementalDecoder dec(tok);
    std::string streamed;
    for (int32_t id : special) streamed += dec.push(id).text;
    streamed += dec.finish().text;
    if (streamed != tok.decode(special)) {
      std::fprintf(stderr, "incremental decode mismatch\n");
      __builtin_trap();
    }
  }
  if (size >= 2) {
    const std::string stop(text.substr(0, 1 + data[0] % 4 < size ? 1 + data[0] % 4 : 1));
    qs::IncrementalDecoder dec(tok, {stop, ""}, data[size - 1] & 1);
    std::string out;
    bool stopped = false;
    for (int32_t id : plain) {
      auto st = dec.push(id);
      out += st.text;
      if (st.stopped) {
        stopped = true;
        break;
      }
    }
    if (!stopped) out += dec.finish().text;
    if (out.find(stop) != std::string::npos) {
      std::fprintf(stderr, "stop string leaked into output\n");
      __builtin_trap();
    }
  }
  return 0;
}
