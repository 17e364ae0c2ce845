#include "tokenizer/vocab.h"

#include <array>
#include <utility>

#include "gguf/gguf_file.h"

namespace qs {

namespace {

struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int, 512> from_cp{};  // every mapped code point is below 512
  ByteMap() {
    from_cp.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
      from_cp[to_cp[b]] = b;
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

// Decodes one UTF-8 sequence at s[i]; returns the code point (or 0xFFFFFFFF) and advances i.
uint32_t next_codepoint(const std::string& s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFFFFFFu;
  }
  uint32_t cp = len == 1 ? c : c & (0x7f >> len);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  i += len;
  return cp;
}

}  // namespace

uint32_t byte_to_codepoint(uint8_t b) { return byte_map().to_cp[b]; }

int codepoint_to_byte(uint32_t cp) { return cp < 512 ? byte_map().from_cp[cp] : -1; }

std::optional<Vocab> Vocab::from_gguf(const GgufFile& f) {
  Vocab v;
  v.tokens_ = f.get_string_array("tokenizer.ggml.tokens");
  if (v.tokens_.empty()) return std::nullopt;
  v.model_ = f.get_string("tokenizer.ggml.model").value_or("gpt2");
  v.pre_ = f.get_string("tokenizer.ggml.pre").value_or("default");
  // Refused as inconsistent: types missing for some tokens or of unknown kinds, a
  // vocab_size key that agrees, and at least one token with text. Repeated token texts are accepted
  // as llama.cpp accepts them (the text maps to its last id).
  const std::vector<int64_t> types = f.get_int_array("tokenizer.ggml.token_type");
  if (!types.empty() && types.size() != v.tokens_.size())
    throw GgufError(f.path() + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) + " entries for " +
                    std::to_string(v.tokens_.size()) + " tokens");
  v.types_.assign(v.tokens_.size(), TokenType::Normal);
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] < 0 || types[i] > 6)
      throw GgufError(f.path() + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] is " + std::to_string(types[i]) +
                      " (known types are 0 to 6)");
    v.types_[i] = static_cast<TokenType>(types[i]);
  }
  if (const auto arch = f.get_string("general.architecture")) {
    if (const auto n = f.get_uint(*arch + ".vocab_size"); n && *n != v.tokens_.size())
      throw GgufError(f.path() + ": " + *arch + ".vocab_size is " + std::to_string(*n) + " but tokenizer.ggml.tokens holds " +
                      std::to_string(v.tokens_.size()) + " tokens");
  }
  bool any_text = false;
  for (const auto& t : v.tokens_) any_text = any_text || !t.empty();
  if (!any_text) throw GgufError(f.path() + ": every token in tokenizer.ggml.tokens is empty");
  auto id = [&](const char* key) -> int32_t {
    const auto x = f.get_uint(key);
    if (!x) return -1;
    if (*x >= v.tokens_.size()) throw GgufError(f.path() + ": key '" + key + "' names token " + std::to_string(*x) + " beyond the vocabulary");
    return static_cast<int32_t>(*x);
  };
  v.bos_ = id("tokenizer.ggml.bos_token_id");
  v.eos_ = id("tokenizer.ggml.eos_token_id");
  v.eot_ = id("tokenizer.ggml.eot_token_id");
  v.add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token").value_or(false);
  return v;
}

Vocab Vocab::from_parts(std::string model, std::string pre, std::vector<std::string> tokens,
                        std::vector<TokenType> types, int32_t bos, int32_t eos, int32_t eot, bool add_bos) {
  Vocab v;
  v.model_ = std::move(model);
  v.pre_ = std::move(pre);
  v.tokens_ = std::move(tokens);
  v.types_ = std::move(types);
  v.types_.resize(v.tokens_.size(), TokenType::Normal);
  v.bos_ = bos;
  v.eos_ = eos;
  v.eot_ = eot;
  v.add_bos_ = add_bos;
  return v;
}

bool Vocab::is_eog(int32_t id) const { return id >= 0 && (id == eos_ || id == eot_); }

std::string Vocab::token_bytes(int32_t id, bool skip_special) const {
  if (id < 0 || id >= size()) return {};
  const TokenType t = types_[id];
  if (t == TokenType::Control || t == TokenType::Unused) return skip_special ? std::string() : tokens_[id];
  if (t == TokenType::UserDefined) return tokens_[id];  // added tokens are stored as plain text
  const std::string& s = tokens_[id];
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    const uint32_t cp = next_codepoint(s, i);
    const int b = codepoint_to_byte(cp);
    if (b >= 0) out.push_back(static_cast<char>(b));
    else out.append(s, start, i - start);  // not a byte-level char: keep as is
  }
  return out;
}

std::string Vocab::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id, skip_special);
  return out;
}

}  // namespace qs
