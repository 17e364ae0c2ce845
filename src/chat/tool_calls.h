// Parses the tool calls a model wrote into its answer, for OpenAI-style `tool_calls`.
//
// DeepSeek V3 / R1 (the format their chat templates render, doc §6.8):
//   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>
//   [\n<｜tool▁call▁begin｜>...<｜tool▁call▁end｜>]*<｜tool▁calls▁end｜>
// DeepSeek V3.1: the same markers around NAME<｜tool▁sep｜>ARGS (no type, no fence).
// DeepSeek V3.2 (DSML, its encoder's markup; string="false" values are JSON, "true" ones raw text):
//   <｜DSML｜function_calls>\n<｜DSML｜invoke name="NAME">\n<｜DSML｜parameter name="K" string="true">V</｜DSML｜parameter>
//   ...\n</｜DSML｜invoke>\n...</｜DSML｜function_calls>
// Qwen2.5 (R1-Distill-Qwen): <tool_call>\n{"name": NAME, "arguments": {...}}\n</tool_call> (repeated).
//
// Generated text is untrusted: a block that does not parse completely (truncated, bad JSON,
// missing markers) is reported with parsed == false and the whole text returned as content.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace qs {

struct ToolCall {
  std::string id;         // "call_" + random characters, unique per call
  std::string type = "function";
  std::string name;
  std::string arguments;  // a JSON text (an object), as OpenAI's API carries it
};

struct ToolCallParse {
  std::string content;         // text before the block (trailing whitespace trimmed); whole text if not parsed
  std::vector<ToolCall> calls;
  bool found = false;          // a tool-call block starts in the text
  bool parsed = false;         // ... and every call in it parsed
  std::string error;           // why not, when found && !parsed
};

ToolCallParse parse_deepseek_tool_calls(std::string_view text);
ToolCallParse parse_dsml_tool_calls(std::string_view text);
ToolCallParse parse_qwen_tool_calls(std::string_view text);
// Whichever format the text contains (DeepSeek's markers first, then DSML, then Qwen's).
ToolCallParse parse_tool_calls(std::string_view text);

// A fresh id in OpenAI's style ("call_" + 24 random alphanumerics).
std::string make_tool_call_id();

}  // namespace qs
