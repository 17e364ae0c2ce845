// Reasoning/content splitting of R1-style output and tool-call parsing of generated text.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/reasoning.h"
#include "chat/tool_calls.h"

namespace qs {
namespace {

ReasoningText feed(const std::vector<std::string>& pieces, ReasoningOptions opt) {
  ReasoningSplitter s(opt);
  ReasoningText all;
  for (const auto& p : pieces) {
    const ReasoningText d = s.push(p);
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  const ReasoningText d = s.finish();
  all.reasoning += d.reasoning;
  all.content += d.content;
  return all;
}

struct Case {
  std::string text;
  bool starts_in_reasoning;
  std::string reasoning, content;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"<think>\nadd 2 and 2\n</think>\n\n4", false, "add 2 and 2", "4"},
      {"add 2 and 2\n</think>\n\nThe answer is 4.", true, "add 2 and 2", "The answer is 4."},
      {"  \n<think>a</think>b", false, "a", "b"},
      {"<think>\n\n</think>\n\nAnswer", false, "", "Answer"},
      {"<think>\nstill thinking about it\n", false, "still thinking about it", ""},
      {"step one\n\n  step two \n", true, "step one\n\n  step two", ""},
      {"Hello\n world ", false, "", "Hello\n world "},
      {"  <thinking> is not a tag", false, "", "  <thinking> is not a tag"},
      {"<thin", false, "", "<thin"},
      {"a </think> b", false, "", "a </think> b"},
      {"x < y </ z </thi</think>\n ok </think> <think>", true, "x < y </ z </thi", "ok </think> <think>"},
      {"思考：二加二\n</think>\n\n答案是四。", true, "思考：二加二", "答案是四。"},
      {"\n</think>\n\n", true, "", ""},
      {"", true, "", ""},
      {"<think>\nabc\n</think>\n\nx", true, "abc", "x"},  // a model repeating the prompt's <think>
      {"<thin", true, "<thin", ""},
      {" <b>bold</b> thought", true, "<b>bold</b> thought", ""},
      {"", false, "", ""},
  };
  return c;
}

TEST(Reasoning, WholeTextSplit) {
  for (const Case& c : cases()) {
    const ReasoningText r = split_reasoning(c.text, {c.starts_in_reasoning});
    EXPECT_EQ(r.reasoning, c.reasoning) << c.text;
    EXPECT_EQ(r.content, c.content) << c.text;
  }
}

TEST(Reasoning, EveryTwoPieceCutGivesTheSameResult) {
  for (const Case& c : cases()) {
    for (size_t i = 0; i <= c.text.size(); ++i) {
      const ReasoningText r = feed({c.text.substr(0, i), c.text.substr(i)}, {c.starts_in_reasoning});
      EXPECT_EQ(r.reasoning, c.reasoning) << c.text << " cut at " << i;
      EXPECT_EQ(r.content, c.content) << c.text << " cut at " << i;
    }
  }
}

TEST(Reasoning, OneByteAtATimeGivesTheSameResult) {
  for (const Case& c : cases()) {
    std::vector<std::string> bytes;
    for (char ch : c.text) bytes.emplace_back(1, ch);
    const ReasoningText r = feed(bytes, {c.starts_in_reasoning});
    EXPECT_EQ(r.reasoning, c.reasoning) << c.text;
    EXPECT_EQ(r.content, c.content) << c.text;
  }
}

TEST(Reasoning, StreamNeverShowsPartOfATag) {
  const std::string text = "<think>\nplan\n</think>\n\nanswer";
  ReasoningSplitter s;
  std::string shown;
  for (char ch : text) {
    const ReasoningText d = s.push(std::string(1, ch));
    shown += d.reasoning + d.content;
    EXPECT_EQ(shown.find('<'), std::string::npos) << shown;
  }
  EXPECT_FALSE(s.in_reasoning());
  EXPECT_TRUE(s.saw_reasoning());
}

TEST(Reasoning, MissingClosingTagKeepsEverythingAsReasoning) {
  ReasoningSplitter s({/*starts_in_reasoning=*/true});
  EXPECT_EQ(s.push("Let me think").reasoning, "Let me think");
  EXPECT_EQ(s.push(" more\n\n").reasoning, " more");  // trailing whitespace waits
  EXPECT_TRUE(s.in_reasoning());
  const ReasoningText end = s.finish();
  EXPECT_EQ(end.reasoning, "");
  EXPECT_EQ(end.content, "");
  EXPECT_TRUE(s.push("late").reasoning.empty());  // nothing after finish
}

TEST(Reasoning, NoTagsIsPlainContentAndStreamsImmediately) {
  ReasoningSplitter s;
  EXPECT_EQ(s.push("Hello").content, "Hello");
  EXPECT_EQ(s.push(", world\n").content, ", world\n");
  EXPECT_FALSE(s.saw_reasoning());
}

TEST(Reasoning, StripReasoningKeepsTextAfterLastCloseTag) {
  EXPECT_EQ(strip_reasoning("<think>\nadd\n</think>\n\n4"), "\n\n4");  // exactly what the R1 template keeps
  EXPECT_EQ(strip_reasoning("a</think>b</think>c"), "c");
  EXPECT_EQ(strip_reasoning("no reasoning"), "no reasoning");
  EXPECT_EQ(strip_reasoning(""), "");
}

TEST(Reasoning, StripReasoningFromHistory) {
  auto msgs = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "sys </think> kept"},
    {"role": "user", "content": "2+2? </think> kept"},
    {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4", "reasoning_content": "add"},
    {"role": "assistant", "content": null, "tool_calls": []},
    {"role": "user", "content": "times 3?"}
  ])");
  strip_reasoning_from_history(msgs);
  EXPECT_EQ(msgs[0]["content"], "sys </think> kept");
  EXPECT_EQ(msgs[1]["content"], "2+2? </think> kept");
  EXPECT_EQ(msgs[2]["content"], "\n\n4");
  EXPECT_FALSE(msgs[2].contains("reasoning_content"));
  EXPECT_TRUE(msgs[3]["content"].is_null());
  EXPECT_EQ(msgs[4]["content"], "times 3?");
  nlohmann::ordered_json odd = nlohmann::ordered_json::parse(R"([1, "x", {"role": 3}, {"content": 5}])");
  strip_reasoning_from_history(odd);  // malformed entries are left alone
  EXPECT_EQ(odd.size(), 4u);
}

// --- tool calls ---

const std::string kBegin = "<｜tool▁calls▁begin｜>", kEnd = "<｜tool▁calls▁end｜>", kCall = "<｜tool▁call▁begin｜>",
                  kCallEnd = "<｜tool▁call▁end｜>", kSep = "<｜tool▁sep｜>", kEos = "<｜end▁of▁sentence｜>";

// One call exactly as the V3/R1 templates render it.
std::string ds_call(const std::string& name, const std::string& args) {
  return kCall + "function" + kSep + name + "\n```json\n" + args + "\n```" + kCallEnd;
}

TEST(ToolCalls, ParsesOneDeepSeekCall) {
  const std::string text = "Let me check.\n" + kBegin + ds_call("get_weather", R"({"city": "Paris"})") + kEnd + kEos;
  const ToolCallParse r = parse_deepseek_tool_calls(text);
  ASSERT_TRUE(r.parsed) << r.error;
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.content, "Let me check.");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].type, "function");
  EXPECT_EQ(nlohmann::json::parse(r.calls[0].arguments), nlohmann::json::parse(R"({"city": "Paris"})"));
  EXPECT_EQ(r.calls[0].id.rfind("call_", 0), 0u);
}

TEST(ToolCalls, ParsesSeveralCalls) {
  const std::string text = kBegin + ds_call("a", "{}") + "\n" + ds_call("b", "{\n  \"x\": [1, 2]\n}") + "\n" +
                           ds_call("c", R"({"s": "```"})") + kEnd;
  const ToolCallParse r = parse_tool_calls(text);
  ASSERT_TRUE(r.parsed) << r.error;
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 3u);
  EXPECT_EQ(r.calls[0].name, "a");
  EXPECT_EQ(r.calls[1].name, "b");
  EXPECT_EQ(nlohmann::json::parse(r.calls[1].arguments)["x"][1], 2);
  EXPECT_EQ(nlohmann::json::parse(r.calls[2].arguments)["s"], "```");
  const std::set<std::string> ids = {r.calls[0].id, r.calls[1].id, r.calls[2].id};
  EXPECT_EQ(ids.size(), 3u);
}

TEST(ToolCalls, ToleratesMissingOuterEndAndBeginMarkers) {
  // The shipped template writes no <｜tool▁calls▁end｜> after a single call.
  ToolCallParse r = parse_deepseek_tool_calls(kBegin + ds_call("f", R"({"a": 1})") + kEos);
  ASSERT_TRUE(r.parsed) << r.error;
  EXPECT_EQ(r.calls.size(), 1u);
  r = parse_deepseek_tool_calls("x " + ds_call("f", R"({"a": 1})"));
  ASSERT_TRUE(r.parsed) << r.error;
  EXPECT_EQ(r.content, "x");
  EXPECT_EQ(r.calls.size(), 1u);
}

// DeepSeek-V3.2's DSML, written out by hand from its encoder's format strings (encoding_dsv32.py):
// the block after "\n\n", invokes and parameters one per line, string="false" values as JSON text.
const std::string kDsml = "｜DSML｜";
std::string dsml_param(const std::string& k, const std::string& v, bool is_str) {
  return "<" + kDsml + "parameter name=\"" + k + "\" string=\"" + (is_str ? "true" : "false") + "\">" + v + "</" + kDsml +
         "parameter>";
}
std::string dsml_invoke(const std::string& name, const std::vector<std::string>& params) {
  std::string body;
  for (const auto& p : params) body += (body.empty() ? "" : "\n") + p;
  return "<" + kDsml + "invoke name=\"" + name + "\">\n" + body + "\n</" + kDsml + "invoke>";
}
std::string dsml_block(const std::vector<std::string>& invokes) {
  std::string body;
  for (const auto& i : invokes) body += (body.empty() ? "" : "\n") + i;
  return "<" + kDsml + "function_calls>\n" + body + "\n</" + kDsml + "function_calls>";
}

TEST(ToolCalls, ParsesDeepSeekV32Dsml) {
  const std::string text =
      "Checking both.\n\n" +
      dsml_block({dsml_invoke("get_weather", {dsml_param("location", "Hangzhou, \"West Lake\"", true),
                                              dsml_param("days", "3", false), dsml_param("units", "{\"t\": \"C\"}", false)}),
                  dsml_invoke("now", {})}) +
      kEos;
  const ToolCallParse r = parse_tool_calls(text);
  ASSERT_TRUE(r.parsed) << r.error;
  EXPECT_EQ(r.content, "Checking both.");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  const auto a = nlohmann::json::parse(r.calls[0].arguments);
  EXPECT_EQ(a["location"], "Hangzhou, \"West Lake\"");  // string="true": the raw text, quotes and all
  EXPECT_EQ(a["days"], 3);                                // string="false": a JSON value
  EXPECT_EQ(a["units"]["t"], "C");
  EXPECT_EQ(r.calls[0].arguments.find("location"), 2u);   // parameters keep their order
  EXPECT_EQ(r.calls[1].name, "now");
  EXPECT_EQ(r.calls[1].arguments, "{}");
  EXPECT_NE(r.calls[0].id, r.calls[1].id);
}

TEST(ToolCalls, BrokenDsmlIsPlainContent) {
  const std::string ok_param = dsml_param("k", "v", true);
  const std::vector<std::string> broken = {
      dsml_block({}),                                                                  // no invoke
      dsml_block({dsml_invoke("f", {dsml_param("n", "{not json", false)})}),           // bad JSON value
      dsml_block({dsml_invoke("f", {ok_param, ok_param})}),                            // repeated parameter
      dsml_block({dsml_invoke("f", {"<" + kDsml + "parameter name=\"k\">v</" + kDsml + "parameter>"})}),  // no string=
      dsml_block({dsml_invoke("f", {ok_param})}).substr(0, 60),                        // truncated
      "<" + kDsml + "function_calls>\nplain words\n</" + kDsml + "function_calls>"};
  for (const std::string& b : broken) {
    const ToolCallParse r = parse_tool_calls("Hi " + b);
    EXPECT_TRUE(r.found) << b;
    EXPECT_FALSE(r.parsed) << b;
    EXPECT_EQ(r.content, "Hi " + b);
    EXPECT_FALSE(r.error.empty());
  }
  // The closing function_calls tag may be missing when the model stops right after its last invoke.
  const ToolCallParse open = parse_tool_calls("<" + kDsml + "function_calls>\n" + dsml_invoke("f", {ok_param}) + kEos);
  ASSERT_TRUE(open.parsed) << open.error;
  EXPECT_EQ(open.calls.size(), 1u);
}

TEST(ToolCalls, NoBlockIsPlainContent) {
  const ToolCallParse r = parse_tool_calls("Just an answer with ```json\n{}\n``` in it.");
  EXPECT_FALSE(r.found);
  EXPECT_FALSE(r.parsed);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "Just an answer with ```json\n{}\n``` in it.");
}

TEST(ToolCalls, MalformedBlocksAreReturnedAsContent) {
  const std::vector<std::string> bad = {
      kBegin + kCall + "function" + kSep + "f\n```json\n{\"a\": ",                 // truncated
      kBegin + ds_call("f", "{not json}") + kEnd,                                 // bad JSON
      kBegin + ds_call("f", "[1, 2]") + kEnd,                                     // not an object
      kBegin + kCall + "function f\n```json\n{}\n```" + kCallEnd + kEnd,         // no separator
      kBegin + kCall + "function" + kSep + "\n```json\n{}\n```" + kCallEnd + kEnd,  // no name
      kBegin + kCall + "function" + kSep + "f" + kCallEnd + kEnd,                // no arguments
      kBegin + kCall + "function" + kSep + "f\n```json\n{}" + kCallEnd + kEnd,   // unclosed fence
      kBegin + ds_call("f", "{}") + "garbage" + ds_call("g", "{}") + kEnd,        // junk between calls
      kBegin + kEnd,                                                              // empty block
      kBegin,
  };
  for (const std::string& text : bad) {
    const ToolCallParse r = parse_tool_calls("Answer: " + text);
    EXPECT_TRUE(r.found) << text;
    EXPECT_FALSE(r.parsed) << text;
    EXPECT_TRUE(r.calls.empty()) << text;
    EXPECT_EQ(r.content, "Answer: " + text);
    EXPECT_FALSE(r.error.empty()) << text;
  }
}

TEST(ToolCalls, EveryPrefixOfABlockIsHandled) {
  const std::string text = "ok " + kBegin + ds_call("f", R"({"a": "b"})") + "\n" + ds_call("g", "{}") + kEnd;
  for (size_t i = 0; i <= text.size(); ++i) {
    const std::string part = text.substr(0, i);
    const ToolCallParse r = parse_tool_calls(part);
    if (!r.parsed) EXPECT_EQ(r.content, part);
    else EXPECT_FALSE(r.calls.empty());
  }
  EXPECT_EQ(parse_tool_calls(text).calls.size(), 2u);
}

TEST(ToolCalls, ParsesQwenCalls) {
  const std::string text =
      "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"now\"}\n</tool_call>";
  const ToolCallParse r = parse_tool_calls(text);
  ASSERT_TRUE(r.parsed) << r.error;
  EXPECT_EQ(r.content, "Checking.");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(nlohmann::json::parse(r.calls[0].arguments)["city"], "Paris");
  EXPECT_EQ(r.calls[1].name, "now");
  EXPECT_EQ(r.calls[1].arguments, "{}");
}

TEST(ToolCalls, MalformedQwenCallsAreReturnedAsContent) {
  for (const std::string text : {"<tool_call>\n{\"name\": \"f\"", "<tool_call>{bad}</tool_call>",
                                 "<tool_call>{\"arguments\": {}}</tool_call>",
                                 "<tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call>",
                                 "<tool_call>{\"name\": \"f\"}</tool_call> trailing words"}) {
    const ToolCallParse r = parse_qwen_tool_calls(text);
    EXPECT_TRUE(r.found) << text;
    EXPECT_FALSE(r.parsed) << text;
    EXPECT_EQ(r.content, text);
  }
}

}  // namespace
// DeepSeek-V3.1 writes NAME<｜tool▁sep｜>ARGS: no type, no fence (its chat template renders calls so).
TEST(ToolCalls, ParsesV31Calls) {
  const std::string text = "Checking.\n" + kBegin + kCall + "get_weather" + kSep + R"({"city": "杭州"})" + kCallEnd + kCall +
                           "function" + kSep + R"({"x": 1})" + kCallEnd + kEnd + kEos;
  const ToolCallParse r = parse_deepseek_tool_calls(text);
  ASSERT_TRUE(r.parsed) << r.error;
  EXPECT_EQ(r.content, "Checking.");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].type, "function");
  EXPECT_EQ(nlohmann::json::parse(r.calls[0].arguments)["city"], "杭州");
  EXPECT_EQ(r.calls[1].name, "function");  // a function named "function" is still V3.1's form
  const ToolCallParse bad = parse_deepseek_tool_calls(kBegin + kCall + "f" + kSep + "{not json" + kCallEnd + kEnd);
  EXPECT_TRUE(bad.found);
  EXPECT_FALSE(bad.parsed);
  const ToolCallParse noname = parse_deepseek_tool_calls(kBegin + kCall + kSep + "{}" + kCallEnd + kEnd);
  EXPECT_FALSE(noname.parsed);
}

}  // namespace qs
