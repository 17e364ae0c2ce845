// Thinking control for templates with a `thinking` switch (DeepSeek-V3.1): chat_template_kwargs, DeepSeek's
// model names, the server's --reasoning default, /apply-template, and V3.1 tool calls through the server's
// output path (streamed too, and after reasoning).
#include <gtest/gtest.h>

#include "engine/scheduler.h"
#include "server/chat_output.h"
#include "server_test_util.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

using namespace qs;
using namespace qs::test;

namespace {

std::string v31_template() { return fixtures_dir() + "/chat/deepseek-v3.1.jinja"; }

bool ends_with(const std::string& s, const std::string& e) { return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0; }

std::string prompt_of(int port, json body) {
  const auto r = http_post(port, "/apply-template", body.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  return r.j.value("prompt", "");
}

json chat(const std::string& model, json kwargs = nullptr) {
  json b = {{"messages", json::array({json{{"role", "user"}, {"content", "hi"}}})}};
  if (!model.empty()) b["model"] = model;
  if (!kwargs.is_null()) b["chat_template_kwargs"] = kwargs;
  return b;
}

}  // namespace

TEST(ServerThinking, KwargsModelNamesAndTheServerDefaultChooseThinking) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.chat_template_file = v31_template();
  TestServer srv(model, o);
  const std::string think = "<｜Assistant｜><think>", nothink = "<｜Assistant｜></think>";
  EXPECT_TRUE(ends_with(prompt_of(srv.port(), chat("")), nothink));  // the template's default
  EXPECT_TRUE(ends_with(prompt_of(srv.port(), chat("", json{{"thinking", true}})), think));
  EXPECT_TRUE(ends_with(prompt_of(srv.port(), chat("deepseek-reasoner")), think));
  EXPECT_TRUE(ends_with(prompt_of(srv.port(), chat("deepseek-chat")), nothink));
  EXPECT_TRUE(ends_with(prompt_of(srv.port(), chat("deepseek-reasoner", json{{"thinking", false}})), nothink));  // kwargs win
  // Other variables reach the template too (V3.1's own alias for the switch).
  EXPECT_TRUE(ends_with(prompt_of(srv.port(), chat("", json{{"enable_thinking", true}})), think));

  // A reasoning answer: everything the model writes goes to reasoning_content until it closes the block.
  json body = chat("deepseek-reasoner");
  body["max_tokens"] = 4;
  body["temperature"] = 0;
  const auto r = http_post(srv.port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["model"], "deepseek-reasoner");  // accepted as a name for the served model
  EXPECT_TRUE(r.j["choices"][0]["message"].contains("reasoning_content")) << r.body;
  body["model"] = "deepseek-chat";
  const auto c = http_post(srv.port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_FALSE(c.j["choices"][0]["message"].contains("reasoning_content")) << c.body;
}

TEST(ServerThinking, ReasoningOnMakesThinkingTheDefault) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.chat_template_file = v31_template();
  o.reasoning = "on";
  TestServer srv(model, o);
  EXPECT_TRUE(ends_with(prompt_of(srv.port(), chat("")), "<｜Assistant｜><think>"));
  EXPECT_TRUE(ends_with(prompt_of(srv.port(), chat("deepseek-chat")), "<｜Assistant｜></think>"));
}

TEST(ServerThinking, TemplatesWithoutTheSwitchAreLeftAlone) {
  QS_REQUIRE_SERVER_MODEL(model);  // the V3 template: no switch, its own generation prompt
  TestServer srv(model);
  EXPECT_EQ(prompt_of(srv.port(), chat("deepseek-reasoner")), prompt_of(srv.port(), chat("deepseek-chat")));
}

TEST(ServerThinking, BadTemplateKwargsAre400) {
  QS_REQUIRE_SERVER_MODEL(model);
  TestServer srv(model);
  json many = json::object();
  for (int i = 0; i < 33; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "v%d", i);
    many[name] = i;
  }
  for (const json& kw : {json(1), json::array(), json{{"messages", 1}}, json{{"bad name", 1}}, json{{"1x", 1}}, many,
                         json{{"big", std::string(20000, 'x')}}}) {
    json b = chat("");
    b["chat_template_kwargs"] = kw;
    const auto r = http_post(srv.port(), "/v1/chat/completions", b.dump());
    EXPECT_EQ(r.status, 400) << kw.dump().substr(0, 80);
    EXPECT_EQ(r.j["error"]["param"], "chat_template_kwargs") << r.body;
  }
  const auto r = http_post(srv.port(), "/apply-template", R"({"messages": "x"})");
  EXPECT_EQ(r.status, 400);
}

TEST(ServerThinking, V31ToolCallsAfterReasoningAreParsedWhenStreamed) {
  QS_REQUIRE_SERVER_MODEL(model);
  auto m = Model::load(model);
  const Tokenizer tok = Tokenizer::from_gguf(m->file());
  server::ChatOutput::Options o;
  o.tools = true;
  o.starts_in_reasoning = true;
  server::ChatOutput out(tok, o);
  const std::vector<std::string> pieces = {"The user wants", " the weather.</think>", "<｜tool▁calls▁begin｜>",
                                           "<｜tool▁call▁begin｜>get_", "weather<｜tool▁sep｜>{\"city\": ",
                                           "\"杭州\"}<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>"};
  const auto [content, reasoning, last] = test::stream_pieces(out, pieces);
  EXPECT_EQ(reasoning, "The user wants the weather.");
  EXPECT_EQ(content, "");
  ASSERT_TRUE(last.tool_calls.is_array());
  ASSERT_EQ(last.tool_calls.size(), 1u);
  EXPECT_EQ(last.tool_calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(last.tool_calls[0]["function"]["arguments"].get<std::string>())["city"], "杭州");
  EXPECT_EQ(out.finish_reason(), "tool_calls");
}
