#include "synth/synth_vocab.h"

#include <stdexcept>

#include "tokenizer/hf_vocab_to_gguf.h"

namespace qs {

SynthVocab vocab_synthetic(int64_t n_vocab, int64_t bos_id, int64_t eos_id, const std::string& pre) {
  const std::string fw = "\xef\xbd\x9c", sp = "\xe2\x96\x81";  // ｜ and ▁ as DeepSeek spells its specials
  const std::string bos = "<" + fw + "begin" + sp + "of" + sp + "sentence" + fw + ">";
  const std::string eos = "<" + fw + "end" + sp + "of" + sp + "sentence" + fw + ">";
  const std::string user = "<" + fw + "User" + fw + ">", assistant = "<" + fw + "Assistant" + fw + ">";
  if (n_vocab < 260 || bos_id < 0 || eos_id < 0 || bos_id >= n_vocab || eos_id >= n_vocab || bos_id == eos_id)
    throw std::runtime_error("synthetic vocabulary needs >= 260 tokens and distinct in-range BOS/EOS ids");

  std::vector<std::string> tokens(static_cast<size_t>(n_vocab));
  std::vector<int32_t> types(static_cast<size_t>(n_vocab), static_cast<int32_t>(TokenType::Unused));
  tokens[bos_id] = bos;
  tokens[eos_id] = eos;
  types[bos_id] = types[eos_id] = static_cast<int32_t>(TokenType::Control);
  int64_t next = 0;  // next free id
  auto place = [&](std::string text, TokenType type) -> bool {
    while (next < n_vocab && (next == bos_id || next == eos_id)) ++next;
    if (next >= n_vocab) return false;
    tokens[next] = std::move(text);
    types[next] = static_cast<int32_t>(type);
    ++next;
    return true;
  };
  for (int b = 0; b < 256; ++b) place(gpt2_byte_token(b), TokenType::Normal);
  place(user, TokenType::Control);
  place(assistant, TokenType::Control);

  // Bigram merges over [a-z] and Ġ (space), space-led first, so BPE has real merges to apply.
  std::vector<std::string> chars;
  for (char c = 'a'; c <= 'z'; ++c) chars.emplace_back(1, c);
  const std::string space = gpt2_byte_token(' ');
  std::vector<std::string> merges;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& c : chars) pairs.emplace_back(space, c);
  for (const auto& a : chars)
    for (const auto& b : chars) pairs.emplace_back(a, b);
  for (const auto& [a, b] : pairs) {
    if (!place(a + b, TokenType::Normal)) break;
    merges.push_back(a + " " + b);
  }
  for (int64_t i = 0; i < n_vocab; ++i)
    if (tokens[i].empty()) tokens[i] = pad_token(i);

  SynthVocab v;
  v.n_vocab = n_vocab;
  v.kv.emplace_back("tokenizer.ggml.model", GgufValue::make_str("gpt2"));
  v.kv.emplace_back("tokenizer.ggml.pre", GgufValue::make_str(pre));
  v.kv.emplace_back("tokenizer.ggml.tokens", GgufValue::make_str_array(std::move(tokens)));
  v.kv.emplace_back("tokenizer.ggml.token_type", GgufValue::make_i32_array(types));
  v.kv.emplace_back("tokenizer.ggml.merges", GgufValue::make_str_array(std::move(merges)));
  v.kv.emplace_back("tokenizer.ggml.bos_token_id", GgufValue::make_u32(static_cast<uint32_t>(bos_id)));
  v.kv.emplace_back("tokenizer.ggml.eos_token_id", GgufValue::make_u32(static_cast<uint32_t>(eos_id)));
  v.kv.emplace_back("tokenizer.ggml.padding_token_id", GgufValue::make_u32(static_cast<uint32_t>(eos_id)));
  v.kv.emplace_back("tokenizer.ggml.add_bos_token", GgufValue::make_bool(true));
  return v;
}

}  // namespace qs
