// Pre-tokenization: cutting text into the pieces BPE works on independently. Modelled on the
// Hugging Face `tokenizers` pipeline: a sequence of regex Splits, each applied to every piece the
// previous one produced, then ByteLevel (optionally with the GPT-2 regex).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/regex.h"

namespace qs {

// What a Split does with its matches (HF SplitDelimiterBehavior).
enum class SplitBehavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous };

class PreTokenizer {
 public:
  // llama.cpp's tokenizer.ggml.pre names: deepseek-v3 (deepseek3-llm), deepseek-llm,
  // deepseek-coder, deepseek-r1-qwen / qwen2, llama-bpe (llama3), default / gpt2.
  // Throws std::invalid_argument for a name it does not know.
  static PreTokenizer from_name(const std::string& name);
  // The "pre_tokenizer" object of a tokenizer.json (null means: no splitting at all).
  static PreTokenizer from_hf_json(const nlohmann::json& j);

  // Space-prefixing (ByteLevel add_prefix_space) happens before splitting, per segment.
  bool add_prefix_space() const { return add_prefix_space_; }

  // The pieces of text, in order; each is a view into text.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct Step {
    Regex re;
    SplitBehavior behavior;
    bool invert;
  };
  void add_split(const std::string& pattern, SplitBehavior b = SplitBehavior::Isolated, bool invert = false);
  void add_hf(const nlohmann::json& j, bool first);

  std::vector<Step> steps_;
  bool add_prefix_space_ = false;
};

// The GPT-2 pattern ByteLevel uses when use_regex is true.
extern const char* const kGpt2Pattern;

}  // namespace qs
