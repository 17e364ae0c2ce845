#include "chat/prompt.h"

#include <exception>

#include "chat/reasoning.h"
#include "tokenizer/tokenizer.h"

namespace qs {

using json = nlohmann::ordered_json;

PromptBuilder::PromptBuilder(const Tokenizer& tok, const ChatTemplate& tmpl) : tok_(tok), tmpl_(tmpl) {
  if (tok.bos() >= 0 && tok.bos() < tok.size()) bos_ = tok.vocab().token(tok.bos());
  if (tok.eos() >= 0 && tok.eos() < tok.size()) eos_ = tok.vocab().token(tok.eos());
  const json probe = json::array({json{{"role", "user"}, {"content", "hi"}}});
  try {
    // The generation prompt is what add_generation_prompt appends to a conversation.
    const std::string with = render(probe, json(), true), without = render(probe, json(), false);
    const std::string_view gen =
        with.compare(0, without.size(), without) == 0 ? std::string_view(with).substr(without.size()) : std::string_view(with);
    reasoning_template_ = gen.find(kThinkOpen) != std::string_view::npos;
  } catch (const std::exception& e) {
    probe_error_ = e.what();
    return;
  }
  try {
    thinking_switch_ = opens_reasoning(render(probe, json(), true, json{{"thinking", true}})) &&
                       !opens_reasoning(render(probe, json(), true, json{{"thinking", false}}));
  } catch (const std::exception&) {
    thinking_switch_ = false;
  }
  const json tools = json::array({json{{"type", "function"},
                                       {"function", json{{"name", "qiusuo_probe_tool"}, {"description", "x"},
                                                         {"parameters", json::object()}}}}});
  try {
    renders_tools_ = render(probe, tools, true).find("qiusuo_probe_tool") != std::string::npos;
  } catch (const std::exception&) {
    renders_tools_ = false;
  }
}

std::string PromptBuilder::render(const json& messages, const json& tools, bool add_generation_prompt, const json& template_kwargs) const {
  return tmpl_.render(messages, tools, add_generation_prompt, bos_, eos_, template_kwargs);
}

std::vector<int32_t> PromptBuilder::tokens(const std::string& text) const {
  std::vector<int32_t> ids = tok_.encode(text, /*add_bos=*/false, /*parse_special=*/true);
  // Templates normally write the BOS text themselves; add the id only where one is due and missing.
  if (tok_.add_bos() && tok_.bos() >= 0 && (ids.empty() || ids.front() != tok_.bos())) ids.insert(ids.begin(), tok_.bos());
  return ids;
}

bool opens_reasoning(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s.size() >= kThinkOpen.size() && s.substr(s.size() - kThinkOpen.size()) == kThinkOpen;
}

}  // namespace qs
