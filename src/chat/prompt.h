// How a conversation becomes prompt tokens, the same for the server and the terminal chat: the chat
// template rendered with the vocabulary's BOS/EOS text, encoded with special tokens parsed, BOS added
// only where one is due and missing; and what the template implies (does its generation prompt open
// a <think> block, does it write tool definitions itself).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace qs {

class Tokenizer;

class PromptBuilder {
 public:
  // Both must outlive the builder. Probes the template with a one-message conversation; a template
  // that cannot render it is reported by probe_error(), not thrown.
  PromptBuilder(const Tokenizer& tok, const ChatTemplate& tmpl);

  // template_kwargs: extra template variables (chat_template_kwargs, e.g. {"thinking": true}).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools, bool add_generation_prompt,
                     const nlohmann::ordered_json& template_kwargs = nlohmann::ordered_json::object()) const;
  // The prompt text's ids: special tokens parsed, BOS prepended where the vocabulary wants one and
  // the template did not write it.
  std::vector<int32_t> tokens(const std::string& text) const;

  // Empty when the probe rendered.
  const std::string& probe_error() const { return probe_error_; }
  // The generation prompt opens a <think> block (DeepSeek-R1 style templates).
  bool reasoning_template() const { return reasoning_template_; }
  // The template switches reasoning with a `thinking` variable (DeepSeek-V3.1 and later: the generation
  // prompt ends <think> with thinking true, </think> otherwise).
  bool thinking_switch() const { return thinking_switch_; }
  // The template renders the `tools` it is given (V3's does not: the server then describes them).
  bool renders_tools() const { return renders_tools_; }

 private:
  const Tokenizer& tok_;
  const ChatTemplate& tmpl_;
  std::string bos_, eos_;
  std::string probe_error_;
  bool reasoning_template_ = false;
  bool renders_tools_ = false;
  bool thinking_switch_ = false;
};

// The prompt text ends inside an open <think> block (trailing white space ignored): the model's first
// tokens are reasoning.
bool opens_reasoning(std::string_view prompt_text);

}  // namespace qs
