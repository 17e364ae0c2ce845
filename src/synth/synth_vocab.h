// The tokenizer.* metadata of a synthetic model: converted from a Hugging Face tokenizer.json
// (tokenizer/hf_vocab_to_gguf.h), or a small made-up byte-level BPE vocabulary.
#pragma once
#include <cstdint>
#include <string>

#include "tokenizer/hf_vocab_to_gguf.h"

namespace qs {

using SynthVocab = GgufVocab;

// n_vocab tokens: the four DeepSeek specials (BOS/EOS at the given ids), the 256 byte tokens in the
// GPT-2 alphabet, then bigram merges of [a-zĠ], then "[PAD{id}]" UNUSED tokens.
SynthVocab vocab_synthetic(int64_t n_vocab, int64_t bos_id, int64_t eos_id, const std::string& pre);

}  // namespace qs
