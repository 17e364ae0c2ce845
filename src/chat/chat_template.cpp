#include "chat/chat_template.h"

namespace qs {

ChatTemplate::ChatTemplate(const std::string& source) : tmpl_(jinja::Template::parse(source)) {}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 bool add_generation_prompt, const std::string& bos, const std::string& eos,
                                 const nlohmann::ordered_json& extra_context) const {
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = messages;
  ctx["tools"] = tools;  // null renders as None: `tools is defined` but falsy, as in HF
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = bos;
  ctx["eos_token"] = eos;
  if (extra_context.is_object())
    for (auto it = extra_context.begin(); it != extra_context.end(); ++it) ctx[it.key()] = it.value();
  return tmpl_.render(ctx);
}

std::string render_chat_template(const std::string& tmpl, const nlohmann::ordered_json& messages,
                                 const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                 const std::string& bos, const std::string& eos,
                                 const nlohmann::ordered_json& extra_context) {
  return ChatTemplate(tmpl).render(messages, tools, add_generation_prompt, bos, eos, extra_context);
}

}  // namespace qs
