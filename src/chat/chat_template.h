// Renders a model's chat template the way Hugging Face apply_chat_template does.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_template.h"

namespace qs {

class ChatTemplate {
 public:
  explicit ChatTemplate(const std::string& source);  // parses now; throws jinja::Error

  // Variables: messages, tools (None when null), add_generation_prompt, bos_token, eos_token, then each key
  // of extra_context (which may override them).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt, const std::string& bos, const std::string& eos,
                     const nlohmann::ordered_json& extra_context = {}) const;

 private:
  jinja::Template tmpl_;
};

// One-shot convenience; the server should keep a ChatTemplate instead of re-parsing.
std::string render_chat_template(const std::string& tmpl, const nlohmann::ordered_json& messages,
                                 const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                 const std::string& bos, const std::string& eos,
                                 const nlohmann::ordered_json& extra_context = {});

}  // namespace qs
