// Text <-> token ids for byte-level BPE vocabularies (DeepSeek V3/R1, V2, LLM, Coder, and the
// R1-Distill Qwen2 / Llama 3 bases), loaded from a GGUF or a Hugging Face tokenizer.json.
// Reproduces HF `tokenizers`: added tokens first, then the pre-tokenizer, then BPE per piece.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace qs {

class GgufFile;

class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Tokenizer {
 public:
  // A path ending in .json is a tokenizer.json (tokenizer_config.json beside it is read when
  // present); anything else is opened as a GGUF. Throws (TokenizerError, GgufError, ...) on failure.
  static Tokenizer load(const std::string& path);
  static Tokenizer from_gguf(const GgufFile& f);
  static Tokenizer from_hf_json(const std::string& path);

  const Vocab& vocab() const { return vocab_; }
  int size() const { return vocab_.size(); }
  int32_t bos() const { return vocab_.bos(); }
  int32_t eos() const { return vocab_.eos(); }
  bool add_bos() const { return vocab_.add_bos(); }
  bool is_eog(int32_t id) const { return vocab_.is_eog(id); }

  // parse_special: special (control) tokens written in the text become their ids. Non-special
  // added tokens (user-defined, e.g. <think> in the R1 distills) are always recognised, as in HF.
  // Any bytes are accepted; invalid UTF-8 goes through byte-level BPE like any other byte (a segment
  // holding some is not NFC-normalised: it is kept byte for byte).
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // Bytes of the ids (control tokens rendered as text unless skip_special). Throws
  // std::out_of_range for an id outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  std::string token_bytes(int32_t id, bool skip_special = false) const;

  // Text is NFC-normalised before pre-tokenization, as HF does where the tokenizer.json has an NFC
  // normalizer (Qwen2, so the R1-Distill-Qwen models) and, from a GGUF, for the Qwen2 pre-tokenizers
  // (see from_gguf). Only the ordinary text between added tokens is normalised: tokens with
  // normalized=false (all of Qwen's) are matched on the raw text, the others on the NFC text.
  // Invalid UTF-8 is left as it is (see nfc_normalize).
  bool normalizes_nfc() const { return nfc_; }

 private:
  Vocab vocab_;
  PreTokenizer pre_;
  BpeModel bpe_;
  AddedTokens added_;
  bool nfc_ = false;
};

}  // namespace qs
