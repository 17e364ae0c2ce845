#include "chat/tool_calls.h"
#include "util/random_id.h"

#include <random>

#include <nlohmann/json.hpp>

namespace qs {

namespace {

constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSep = "<｜tool▁sep｜>";
constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
constexpr std::string_view kDsmlCalls = "<｜DSML｜function_calls>";
constexpr std::string_view kDsmlCallsEnd = "</｜DSML｜function_calls>";
constexpr std::string_view kDsmlInvoke = "<｜DSML｜invoke name=\"";
constexpr std::string_view kDsmlInvokeEnd = "</｜DSML｜invoke>";
constexpr std::string_view kDsmlParam = "<｜DSML｜parameter name=\"";
constexpr std::string_view kDsmlParamEnd = "</｜DSML｜parameter>";
constexpr std::string_view kQwenBegin = "<tool_call>";
constexpr std::string_view kQwenEnd = "</tool_call>";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

size_t skip_space(std::string_view s, size_t p) {
  while (p < s.size() && is_space(s[p])) ++p;
  return p;
}

bool at(std::string_view s, size_t p, std::string_view tag) { return s.substr(p, tag.size()) == tag; }

ToolCallParse not_parsed(std::string_view text, std::string why) {
  ToolCallParse r;
  r.content = std::string(text);
  r.found = true;
  r.error = std::move(why);
  return r;
}

bool is_json_object(std::string_view s) {
  const auto j = nlohmann::json::parse(s.begin(), s.end(), nullptr, /*allow_exceptions=*/false);
  return j.is_object();
}

// A block of calls that parsed, from byte `start` to `end`: the text before it is the content, and
// whatever follows it (normally nothing, or the EOS marker) is kept as content too.
ToolCallParse finish_block(std::string_view text, size_t start, size_t end, ToolCallParse r) {
  std::string_view tail = text.substr(std::min(end, text.size()));
  if (at(tail, skip_space(tail, 0), kEos)) tail = tail.substr(skip_space(tail, 0) + kEos.size());
  r.content = std::string(trim_right(text.substr(0, start)));
  if (!trim(tail).empty()) r.content += std::string(trim(tail));
  r.parsed = true;
  return r;
}

// V3/R1: "function<｜tool▁sep｜>NAME\n```json\nARGS\n```"; V3.1: "NAME<｜tool▁sep｜>ARGS" -> call;
// returns an error message or "".
std::string parse_deepseek_body(std::string_view body, ToolCall& call) {
  const size_t sep = body.find(kSep);
  if (sep == std::string_view::npos) return "tool call without <｜tool▁sep｜>";
  const std::string_view head = trim(body.substr(0, sep));
  const std::string_view rest = body.substr(sep + kSep.size());
  if (const std::string_view v31 = trim(rest); !v31.empty() && v31.front() == '{') {  // V3.1: arguments right after the name
    call.name = std::string(head);
    if (call.name.empty()) return "tool call without a function name";
    if (!is_json_object(v31)) return "arguments of tool call '" + call.name + "' are not a JSON object";
    call.arguments = std::string(v31);
    return "";
  }
  if (!head.empty()) call.type = std::string(head);
  const size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return "tool call without arguments";
  call.name = std::string(trim(rest.substr(0, nl)));
  if (call.name.empty()) return "tool call without a function name";
  std::string_view args = trim(rest.substr(nl + 1));
  if (args.substr(0, 3) == "```") {  // the ```json fence the template writes; tolerate its absence
    const size_t line_end = args.find('\n');
    if (line_end == std::string_view::npos || args.size() < 3 || args.substr(args.size() - 3) != "```" ||
        args.size() - 3 <= line_end)
      return "unterminated ```json fence in tool call '" + call.name + "'";
    args = trim(args.substr(line_end + 1, args.size() - 3 - (line_end + 1)));
  }
  if (!is_json_object(args)) return "arguments of tool call '" + call.name + "' are not a JSON object";
  call.arguments = std::string(args);
  return "";
}


}  // namespace

std::string make_tool_call_id() {
  return random_id("call_");
}

ToolCallParse parse_deepseek_tool_calls(std::string_view text) {
  ToolCallParse r;
  size_t start = text.find(kCallsBegin), p;
  if (start != std::string_view::npos) {
    p = start + kCallsBegin.size();
  } else {  // models sometimes skip the outer marker
    start = text.find(kCallBegin);
    if (start == std::string_view::npos) {
      r.content = std::string(text);
      return r;
    }
    p = start;
  }
  r.found = true;
  for (;;) {
    p = skip_space(text, p);
    if (at(text, p, kCallsEnd)) {
      p += kCallsEnd.size();
      break;
    }
    if (p >= text.size() || at(text, p, kEos)) {
      // The shipped template omits <｜tool▁calls▁end｜> after a single call, so complete calls
      // followed by the end of the text count as a finished block.
      break;
    }
    if (!at(text, p, kCallBegin)) return not_parsed(text, "unexpected text in tool-call block at byte " + std::to_string(p));
    p += kCallBegin.size();
    const size_t end = text.find(kCallEnd, p);
    if (end == std::string_view::npos) return not_parsed(text, "tool call not closed (truncated output?)");
    ToolCall call;
    std::string err = parse_deepseek_body(text.substr(p, end - p), call);
    if (!err.empty()) return not_parsed(text, std::move(err));
    call.id = make_tool_call_id();
    r.calls.push_back(std::move(call));
    p = end + kCallEnd.size();
  }
  if (r.calls.empty()) return not_parsed(text, "tool-call block without any call");
  return finish_block(text, start, p, std::move(r));
}

namespace {

// One DSML invoke from just after `<｜DSML｜invoke name="` to just after its closing tag; p advances.
std::string parse_dsml_invoke(std::string_view text, size_t& p, ToolCall& call) {
  const size_t name_end = text.find("\">", p);
  if (name_end == std::string_view::npos) return "DSML invoke without a closed name (truncated output?)";
  call.name = std::string(text.substr(p, name_end - p));
  if (call.name.empty() || call.name.find_first_of("\"<>\n") != std::string::npos) return "DSML invoke with a bad function name";
  p = name_end + 2;
  nlohmann::ordered_json args = nlohmann::ordered_json::object();
  for (;;) {
    p = skip_space(text, p);
    if (at(text, p, kDsmlInvokeEnd)) {
      p += kDsmlInvokeEnd.size();
      break;
    }
    if (!at(text, p, kDsmlParam))
      return p >= text.size() ? "DSML invoke not closed (truncated output?)"
                              : "unexpected text in DSML invoke '" + call.name + "' at byte " + std::to_string(p);
    p += kDsmlParam.size();
    const size_t key_end = text.find('"', p);
    if (key_end == std::string_view::npos) return "DSML parameter without a closed name";
    const std::string key(text.substr(p, key_end - p));
    p = key_end + 1;
    bool is_string;
    if (at(text, p, " string=\"true\">")) is_string = true, p += 15;
    else if (at(text, p, " string=\"false\">")) is_string = false, p += 16;
    else return "DSML parameter '" + key + "' without string=\"true\" or \"false\"";
    const size_t value_end = text.find(kDsmlParamEnd, p);
    if (value_end == std::string_view::npos) return "DSML parameter '" + key + "' not closed (truncated output?)";
    const std::string_view value = text.substr(p, value_end - p);
    p = value_end + kDsmlParamEnd.size();
    if (key.empty() || args.contains(key)) return "DSML invoke '" + call.name + "' with an empty or repeated parameter";
    if (is_string) {
      args[key] = std::string(value);
    } else {
      auto v = nlohmann::ordered_json::parse(value.begin(), value.end(), nullptr, /*allow_exceptions=*/false);
      if (v.is_discarded()) return "DSML parameter '" + key + "' of '" + call.name + "' is not JSON";
      args[key] = std::move(v);
    }
  }
  call.arguments = args.dump();
  return "";
}

}  // namespace

ToolCallParse parse_dsml_tool_calls(std::string_view text) {
  ToolCallParse r;
  const size_t start = text.find(kDsmlCalls);
  if (start == std::string_view::npos) {
    r.content = std::string(text);
    return r;
  }
  r.found = true;
  size_t p = start + kDsmlCalls.size();
  for (;;) {
    p = skip_space(text, p);
    if (at(text, p, kDsmlCallsEnd)) {
      p += kDsmlCallsEnd.size();
      break;
    }
    if (p >= text.size() || at(text, p, kEos)) break;  // complete invokes, then the end: a finished block
    if (!at(text, p, kDsmlInvoke)) return not_parsed(text, "unexpected text in DSML function_calls at byte " + std::to_string(p));
    p += kDsmlInvoke.size();
    ToolCall call;
    std::string err = parse_dsml_invoke(text, p, call);
    if (!err.empty()) return not_parsed(text, std::move(err));
    call.id = make_tool_call_id();
    r.calls.push_back(std::move(call));
  }
  if (r.calls.empty()) return not_parsed(text, "DSML function_calls without any invoke");
  return finish_block(text, start, p, std::move(r));
}

ToolCallParse parse_qwen_tool_calls(std::string_view text) {
  ToolCallParse r;
  const size_t start = text.find(kQwenBegin);
  if (start == std::string_view::npos) {
    r.content = std::string(text);
    return r;
  }
  r.found = true;
  size_t p = start;
  for (;;) {
    p = skip_space(text, p);
    if (p >= text.size()) break;
    if (!at(text, p, kQwenBegin)) return not_parsed(text, "unexpected text after <tool_call> at byte " + std::to_string(p));
    p += kQwenBegin.size();
    const size_t end = text.find(kQwenEnd, p);
    if (end == std::string_view::npos) return not_parsed(text, "<tool_call> not closed (truncated output?)");
    const std::string_view body = trim(text.substr(p, end - p));
    p = end + kQwenEnd.size();
    const auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty())
      return not_parsed(text, "<tool_call> is not a JSON object with a \"name\"");
    ToolCall call;
    call.name = j["name"].get<std::string>();
    const auto args = j.find("arguments");
    if (args == j.end() || args->is_null()) {
      call.arguments = "{}";
    } else if (args->is_object()) {
      call.arguments = args->dump();
    } else if (args->is_string() && is_json_object(args->get_ref<const std::string&>())) {
      call.arguments = args->get<std::string>();  // some fine-tunes double-encode the arguments
    } else {
      return not_parsed(text, "arguments of tool call '" + call.name + "' are not a JSON object");
    }
    call.id = make_tool_call_id();
    r.calls.push_back(std::move(call));
  }
  r.content = std::string(trim_right(text.substr(0, start)));
  r.parsed = true;
  return r;
}

ToolCallParse parse_tool_calls(std::string_view text) {
  ToolCallParse r = parse_deepseek_tool_calls(text);
  if (r.found) return r;
  r = parse_dsml_tool_calls(text);
  if (r.found) return r;
  return parse_qwen_tool_calls(text);
}

}  // namespace qs
