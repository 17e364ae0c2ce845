// A Hugging Face tokenizer.json (and tokenizer_config.json beside it) as GGUF tokenizer.* metadata, the
// way llama.cpp's convert_hf_to_gguf.py writes it: used by `convert` for real checkpoints and by `synth`.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "gguf/gguf_value.h"
#include "tokenizer/vocab.h"

namespace qs {

struct GgufVocab {
  int64_t n_vocab = 0;  // tokens written (the model's vocab size)
  std::vector<std::pair<std::string, GgufValue>> kv;  // tokenizer.* keys in writing order
};

// Reads tokenizer.json (and tokenizer_config.json beside it, if present: BOS/EOS, add_bos, the chat
// template). The vocabulary is padded with "[PAD{id}]" UNUSED tokens up to min_vocab. pre_override
// replaces the detected pre-tokenizer.
GgufVocab vocab_from_hf(const std::string& tokenizer_json, int64_t min_vocab, const std::string& pre_override);

// llama.cpp's pre-tokenizer name (tokenizer.ggml.pre) for a tokenizer.json "pre_tokenizer" section;
// empty if not recognised. has_deepseek_bos tells R1-Distill-Qwen apart from plain Qwen2.
std::string detect_pre_tokenizer(const nlohmann::json& pre_tokenizer, bool has_deepseek_bos);

// Byte b as a GPT-2 byte-level token (bytes_to_unicode), and llama.cpp's name for padding token `id`.
std::string gpt2_byte_token(int b);
std::string pad_token(int64_t id);

}  // namespace qs
