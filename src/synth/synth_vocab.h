// The tokenizer.* metadata of a synthetic model: converted from a Hugging Face tokenizer.json the way
// llama.cpp's convert_hf_to_gguf.py does it, or a small made-up byte-level BPE vocabulary.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "gguf/gguf_value.h"

namespace qs {

struct SynthVocab {
  int64_t n_vocab = 0;  // tokens written (the model's vocab size)
  std::vector<std::pair<std::string, GgufValue>> kv;  // tokenizer.* keys in writing order
};

// llama.cpp token types.
enum class TokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// Reads tokenizer.json (and tokenizer_config.json beside it, if present). The vocabulary is padded
// with "[PAD{id}]" UNUSED tokens up to min_vocab. pre_override replaces the detected pre-tokenizer.
SynthVocab vocab_from_hf(const std::string& tokenizer_json, int64_t min_vocab, const std::string& pre_override);

// n_vocab tokens: the four DeepSeek specials (BOS/EOS at the given ids), the 256 byte tokens in the
// GPT-2 alphabet, then bigram merges of [a-zĠ], then "[PAD{id}]" UNUSED tokens.
SynthVocab vocab_synthetic(int64_t n_vocab, int64_t bos_id, int64_t eos_id, const std::string& pre);

// llama.cpp's pre-tokenizer name (tokenizer.ggml.pre) for a tokenizer.json "pre_tokenizer" section;
// empty if not recognised. has_deepseek_bos tells R1-Distill-Qwen apart from plain Qwen2.
std::string detect_pre_tokenizer(const nlohmann::json& pre_tokenizer, bool has_deepseek_bos);

}  // namespace qs
