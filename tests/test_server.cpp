// qiusuo serve, in process on a loopback ephemeral port with a tiny synthetic model: the OpenAI /
// DeepSeek API shapes, streaming, stop strings, prefix caching, batching determinism, backpressure
// (429), client disconnects, validation and security checks.
#include <atomic>
#include <fstream>
#include <future>

#include "server/chat_output.h"
#include "server_test_util.h"
#include "tokenizer/tokenizer.h"

namespace qs {
namespace {

using test::chat_body;
using test::http_get;
using test::http_post;
using test::http_stream;
using test::json;
using test::metric;

TEST(ServerHttp, HealthModelsMetricsAndWebUi) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer s(model);
  auto h = http_get(s.port(), "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.j["status"], "ok");
  auto m = http_get(s.port(), "/v1/models");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.j["object"], "list");
  ASSERT_EQ(m.j["data"].size(), 1u);
  EXPECT_FALSE(m.j["data"][0]["id"].get<std::string>().empty());
  EXPECT_EQ(http_get(s.port(), "/models").status, 200);
  auto page = http_get(s.port(), "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos) << "the page must not load anything external";
  auto met = http_get(s.port(), "/metrics");
  EXPECT_EQ(met.status, 200);
  for (const char* name : {"qiusuo_requests_running", "qiusuo_requests_waiting", "qiusuo_prompt_tokens_total",
                           "qiusuo_generation_tokens_total", "qiusuo_time_to_first_token_seconds_bucket",
                           "qiusuo_inter_token_latency_seconds", "qiusuo_request_queue_time_seconds", "qiusuo_e2e_request_latency_seconds",
                           "qiusuo_kv_cache_usage_perc", "qiusuo_prefix_cache_queries_total", "qiusuo_prefix_cache_hits_total"})
    EXPECT_NE(met.body.find(name), std::string::npos) << name;
  auto tk = http_post(s.port(), "/tokenize", R"({"content": "hello world"})");
  ASSERT_EQ(tk.status, 200);
  ASSERT_TRUE(tk.j["tokens"].is_array());
  auto dt = http_post(s.port(), "/detokenize", json{{"tokens", tk.j["tokens"]}}.dump());
  ASSERT_EQ(dt.status, 200);
  EXPECT_NE(dt.j["content"].get<std::string>().find("hello world"), std::string::npos);
  EXPECT_EQ(http_post(s.port(), "/detokenize", R"({"tokens": [99999999]})").status, 400);
}

TEST(ServerChat, NonStreamShapeAndUsage) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer s(model);
  for (const char* path : {"/v1/chat/completions", "/chat/completions"}) {
    auto r = http_post(s.port(), path, chat_body("Hello, who are you?", 8).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.j["object"], "chat.completion");
    EXPECT_TRUE(r.j["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
    const auto& c = r.j["choices"][0];
    EXPECT_EQ(c["message"]["role"], "assistant");
    EXPECT_TRUE(c["message"]["content"].is_string());
    const auto& u = r.j["usage"];
    EXPECT_GT(u["prompt_tokens"].get<int>(), 3);
    EXPECT_LE(u["completion_tokens"].get<int>(), 8);
    if (c["finish_reason"] == "length") {
      EXPECT_EQ(u["completion_tokens"], 8);
    }
    EXPECT_EQ(u["total_tokens"].get<int>(), u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
    EXPECT_EQ(u["prompt_cache_hit_tokens"].get<int>() + u["prompt_cache_miss_tokens"].get<int>(), u["prompt_tokens"].get<int>());
    EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], u["prompt_cache_hit_tokens"]);
    EXPECT_TRUE(u["completion_tokens_details"]["reasoning_tokens"].is_number_integer());
  }
}

TEST(ServerChat, MaxTokensGivesFinishReasonLength) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer s(model);
  auto r = http_post(s.port(), "/v1/chat/completions", chat_body("Count", 5, {{"ignore_eos", true}}).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r.j["usage"]["completion_tokens"], 5);
  // max_completion_tokens is the newer name.
  auto r2 = http_post(s.port(), "/v1/chat/completions",
                      chat_body("Count", 99, {{"ignore_eos", true}, {"max_completion_tokens", 3}}).dump());
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(r2.j["usage"]["completion_tokens"], 3);
}

TEST(ServerChat, StreamMatchesNonStreamAndEndsWithDone) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer s(model);
  const json body = chat_body("Tell me a story about a cat", 12);
  auto plain = http_post(s.port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(plain.status, 200);
  json sb = body;
  sb["stream"] = true;
  sb["stream_options"] = {{"include_usage", true}};
  auto st = http_stream(s.port(), "/v1/chat/completions", sb.dump());
  ASSERT_EQ(st.status, 200);
  ASSERT_TRUE(st.done) << st.raw;
  ASSERT_GE(st.chunks.size(), 3u);
  EXPECT_EQ(st.chunks[0]["object"], "chat.completion.chunk");
  EXPECT_EQ(st.chunks[0]["choices"][0]["delta"]["role"], "assistant");
  for (const auto& c : st.chunks) EXPECT_EQ(c["id"], st.chunks[0]["id"]);
  // The last chunk is the usage chunk (choices empty), before it the finish_reason chunk.
  const json& usage_chunk = st.chunks.back();
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], plain.j["usage"]["completion_tokens"]);
  EXPECT_EQ(st.chunks[st.chunks.size() - 2]["choices"][0]["finish_reason"], plain.j["choices"][0]["finish_reason"]);
  EXPECT_TRUE(st.chunks[1]["usage"].is_null());
  EXPECT_EQ(test::stream_content(st), plain.j["choices"][0]["message"]["content"].get<std::string>());
  // Without include_usage there is no usage chunk.
  sb.erase("stream_options");
  auto st2 = http_stream(s.port(), "/v1/chat/completions", sb.dump());
  ASSERT_TRUE(st2.done);
  for (const auto& c : st2.chunks) EXPECT_FALSE(c["choices"].empty());
}

TEST(ServerChat, StopStringsEndTheAnswerAndAreNotShown) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer s(model);
  const json body = chat_body("Write something long", 24, {{"ignore_eos", true}});
  auto full = http_post(s.port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(full.status, 200);
  const std::string text = full.j["choices"][0]["message"]["content"];
  ASSERT_GT(text.size(), 20u);
  // A stop string from the middle of the greedy answer: the answer becomes what precedes it.
  const std::string stop = text.substr(text.size() / 2, 4);
  const size_t at = text.find(stop);
  for (bool stream : {false, true}) {
    json b = body;
    b["stop"] = json::array({"zzzz-never", stop});
    if (stream) {
      b["stream"] = true;
      auto st = http_stream(s.port(), "/v1/chat/completions", b.dump());
      ASSERT_TRUE(st.done);
      EXPECT_EQ(test::stream_content(st), text.substr(0, at));
      EXPECT_EQ(st.chunks.back()["choices"][0]["finish_reason"], "stop");
    } else {
      auto r = http_post(s.port(), "/v1/chat/completions", b.dump());
      ASSERT_EQ(r.status, 200);
      EXPECT_EQ(r.j["choices"][0]["message"]["content"], text.substr(0, at));
      EXPECT_EQ(r.j["choices"][0]["finish_reason"], "stop");
    }
  }
  // stop as a single string works too.
  json b = body;
  b["stop"] = stop;
  auto r = http_post(s.port(), "/v1/chat/completions", b.dump());
  EXPECT_EQ(r.j["choices"][0]["message"]["content"], text.substr(0, at));
}

TEST(ServerChat, PrefixCacheHitOnRepeatedLongPrompt) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 2;
  test::TestServer s(model, o);
  std::string system;
  for (int i = 0; i < 40; ++i) system += "Rule " + std::to_string(i) + ": always answer politely and precisely. ";
  auto body = [&](const std::string& q) {
    return json{{"messages", json::array({json{{"role", "system"}, {"content", system}}, json{{"role", "user"}, {"content", q}}})},
                {"max_tokens", 4},
                {"temperature", 0}};
  };
  auto a = http_post(s.port(), "/v1/chat/completions", body("What is 2+2?").dump());
  ASSERT_EQ(a.status, 200);
  const int prompt = a.j["usage"]["prompt_tokens"];
  ASSERT_GT(prompt, 200);
  EXPECT_EQ(a.j["usage"]["prompt_cache_hit_tokens"], 0);
  // The same system prompt with another question: the system part comes from the cache.
  auto b = http_post(s.port(), "/v1/chat/completions", body("And what is 3+3?").dump());
  ASSERT_EQ(b.status, 200);
  EXPECT_GT(b.j["usage"]["prompt_cache_hit_tokens"].get<int>(), 200);
  EXPECT_EQ(b.j["usage"]["prompt_cache_hit_tokens"], b.j["usage"]["prompt_tokens_details"]["cached_tokens"]);
  // The repeated request hits everything but the last prompt token and answers the same.
  auto c = http_post(s.port(), "/v1/chat/completions", body("What is 2+2?").dump());
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(c.j["usage"]["prompt_cache_hit_tokens"].get<int>(), prompt - 1);
  EXPECT_EQ(c.j["choices"][0]["message"]["content"], a.j["choices"][0]["message"]["content"]);
  EXPECT_GT(metric(s.port(), "qiusuo_prefix_cache_hits_total"), 400);
}

// Short prompts keep their hits under mixed traffic as long ones do (a 15-token prompt used to fall from
// 14 cached tokens to 2 after one different request took its slot: prefixes under 16 tokens were not
// stored), and the usage gauge reads zero when nothing runs.
TEST(ServerChat, ShortPromptKeepsItsHitAfterAnotherRequest) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 1;
  test::TestServer s(model, o);
  auto body = [](const std::string& prompt) { return json{{"prompt", prompt}, {"max_tokens", 2}, {"temperature", 0}}; };
  const std::string short_prompt = "Hello there, how are you today my friend?";
  auto a = http_post(s.port(), "/v1/completions", body(short_prompt).dump());
  ASSERT_EQ(a.status, 200);
  const int n = a.j["usage"]["prompt_tokens"];
  ASSERT_GE(n, 5);
  ASSERT_LT(n, 16);
  ASSERT_EQ(http_post(s.port(), "/v1/completions", body("Something else entirely, about the weather.").dump()).status, 200);
  auto b = http_post(s.port(), "/v1/completions", body(short_prompt).dump());
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(b.j["usage"]["prompt_cache_hit_tokens"].get<int>(), n - 1);
  // The slot is released just after the last event is sent.
  EXPECT_TRUE(test::wait_until([&] { return metric(s.port(), "qiusuo_kv_cache_usage_perc") == 0.0; }, std::chrono::seconds(10)));
}

TEST(ServerChat, PrefixStoreServesEvictedSlots) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 1;
  test::TestServer s(model, o);
  std::string doc_a, doc_b;
  for (int i = 0; i < 30; ++i) doc_a += "Alpha fact " + std::to_string(i) + " is important. ";
  for (int i = 0; i < 30; ++i) doc_b += "Beta item " + std::to_string(i) + " matters a lot. ";
  auto ask = [&](const std::string& doc) {
    return http_post(s.port(), "/v1/chat/completions", chat_body(doc + " Summarise.", 2).dump());
  };
  ASSERT_EQ(ask(doc_a).status, 200);
  ASSERT_EQ(ask(doc_b).status, 200);  // the only slot now holds B; A went to the store
  auto again = ask(doc_a);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.j["usage"]["prompt_cache_hit_tokens"].get<int>(), again.j["usage"]["prompt_tokens"].get<int>() - 1);
}

TEST(ServerBatching, ConcurrentGreedyStreamsMatchSoloRuns) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 8;
  o.cache_mib = 0;
  test::TestServer s(model, o);
  const int n = 8;
  std::vector<json> bodies;
  for (int i = 0; i < n; ++i) {
    json b = chat_body("Request number " + std::to_string(i) + std::string(static_cast<size_t>(i) * 7, '!') + " go", 16,
                       {{"ignore_eos", true}, {"stream", true}});
    bodies.push_back(b);
  }
  std::vector<std::string> solo(n), together(n);
  for (int i = 0; i < n; ++i) {
    // A different first token keeps the slots' own caches from being reused across requests.
    auto r = http_stream(s.port(), "/v1/chat/completions", bodies[static_cast<size_t>(i)].dump());
    ASSERT_TRUE(r.done);
    solo[static_cast<size_t>(i)] = test::stream_content(r);
  }
  std::vector<std::future<test::StreamResult>> fs;
  for (int i = 0; i < n; ++i)
    fs.push_back(std::async(std::launch::async, [&, i] { return http_stream(s.port(), "/v1/chat/completions", bodies[static_cast<size_t>(i)].dump()); }));
  for (int i = 0; i < n; ++i) {
    auto r = fs[static_cast<size_t>(i)].get();
    ASSERT_TRUE(r.done) << r.raw;
    together[static_cast<size_t>(i)] = test::stream_content(r);
    EXPECT_EQ(together[static_cast<size_t>(i)], solo[static_cast<size_t>(i)]) << "request " << i;
  }
  // The engine really batched: fewer forward passes than tokens evaluated.
  EXPECT_LT(metric(s.port(), "qiusuo_forward_batches_total"), metric(s.port(), "qiusuo_forward_tokens_total"));
}

TEST(ServerQueue, OverflowGets429QuicklyAndQueuedRequestRuns) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 1;
  o.max_queue = 1;
  test::TestServer s(model, o);
  // A: a slow stream holding the only slot until we let go.
  std::atomic<bool> release{false};
  std::atomic<int> a_chunks{0};
  auto a = std::async(std::launch::async, [&] {
    return http_stream(s.port(), "/v1/chat/completions", chat_body("slow", 900, {{"ignore_eos", true}, {"stream", true}}).dump(),
                       [&](const json&) {
                         ++a_chunks;
                         return !release.load();
                       });
  });
  ASSERT_TRUE(test::wait_until([&] { return a_chunks.load() > 2; }, std::chrono::seconds(20)));
  // B waits in the queue.
  auto b = std::async(std::launch::async, [&] { return http_post(s.port(), "/v1/chat/completions", chat_body("queued", 3).dump()); });
  ASSERT_TRUE(test::wait_until([&] { return metric(s.port(), "qiusuo_requests_waiting") == 1; }, std::chrono::seconds(10)));
  // C: refused at once.
  const auto t0 = std::chrono::steady_clock::now();
  auto c = http_post(s.port(), "/v1/chat/completions", chat_body("refused", 3).dump());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(c.status, 429) << c.body;
  EXPECT_LT(secs, 1.0);
  EXPECT_EQ(c.j["error"]["type"], "rate_limit_error");
  bool retry_after = false;
  for (const auto& [k, v] : c.headers) retry_after |= (k == "Retry-After");
  EXPECT_TRUE(retry_after);
  EXPECT_GE(metric(s.port(), "qiusuo_requests_rejected_total{reason=\"queue_full\"}"), 1);
  // Let A go (the client disconnects): B gets the slot and answers.
  release = true;
  auto br = b.get();
  EXPECT_EQ(br.status, 200) << br.body;
  a.get();
}

TEST(ServerStream, ClientDisconnectFreesTheSlot) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 1;
  test::TestServer s(model, o);
  int seen = 0;
  auto r = http_stream(s.port(), "/v1/chat/completions", chat_body("go on forever", 900, {{"ignore_eos", true}, {"stream", true}}).dump(),
                       [&](const json&) { return ++seen < 4; });
  EXPECT_EQ(seen, 4);
  EXPECT_FALSE(r.done);
  EXPECT_TRUE(test::wait_until([&] { return metric(s.port(), "qiusuo_requests_running") == 0; }, std::chrono::seconds(10)));
  EXPECT_GE(metric(s.port(), "qiusuo_requests_aborted_total{reason=\"client_disconnected\"}"), 1);
  EXPECT_LT(metric(s.port(), "qiusuo_generation_tokens_total"), 200) << "generation went on after the client left";
  auto next = http_post(s.port(), "/v1/chat/completions", chat_body("hello", 3).dump());
  EXPECT_EQ(next.status, 200);
}

TEST(ServerValidation, MalformedRequestsGet4xxAndServerKeepsServing) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.max_body_bytes = 64 * 1024;
  test::TestServer s(model, o);
  const std::string user = R"("messages": [{"role": "user", "content": "hi"}])";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{not json", ""},
      {"[]", ""},
      {"{}", "messages"},
      {R"({"messages": "hi"})", "messages"},
      {R"({"messages": []})", "messages"},
      {R"({"messages": [{"role": "wizard", "content": "hi"}]})", "messages"},
      {R"({"messages": [{"role": "user"}]})", "messages"},
      {R"({"messages": [{"role": "user", "content": 42}]})", "messages"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]})", "messages"},
      {"{" + user + R"(, "temperature": "warm"})", "temperature"},
      {"{" + user + R"(, "temperature": 3})", "temperature"},
      {"{" + user + R"(, "top_p": 1.5})", "top_p"},
      {"{" + user + R"(, "max_tokens": 0})", "max_tokens"},
      {"{" + user + R"(, "max_tokens": 1e12})", "max_tokens"},
      {"{" + user + R"(, "max_tokens": 1000000})", "max_tokens"},
      {"{" + user + R"(, "max_tokens": 2.5})", "max_tokens"},
      {"{" + user + R"(, "logprobs": true, "top_logprobs": 50})", "top_logprobs"},
      {"{" + user + R"(, "top_logprobs": 3})", "top_logprobs"},
      {"{" + user + R"(, "n": 2})", "n"},
      {"{" + user + R"(, "stop": [1, 2]})", "stop"},
      {"{" + user + R"(, "stream": "yes"})", "stream"},
      {"{" + user + R"(, "stream_options": {"include_usage": true}})", "stream_options"},
      {"{" + user + R"(, "presence_penalty": -5})", "presence_penalty"},
      {"{" + user + R"(, "seed": "abc"})", "seed"},
      {"{" + user + R"(, "logit_bias": {"999999999": 1}})", "logit_bias"},
      {"{" + user + R"(, "tools": [{"type": "function", "function": {"name": "bad name!"}}]})", "tools"},
      {"{" + user + R"(, "tool_choice": "required"})", "tool_choice"},
      {"{" + user + R"(, "response_format": {"type": "xml"}})", "response_format"},
  };
  for (const auto& [body, param] : bad) {
    auto r = http_post(s.port(), "/v1/chat/completions", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    ASSERT_TRUE(r.j.is_object()) << r.body;
    EXPECT_EQ(r.j["error"]["type"], "invalid_request_error") << body;
    EXPECT_TRUE(r.j["error"]["message"].is_string());
    if (!param.empty()) {
      EXPECT_EQ(r.j["error"]["param"], param) << body;
    }
  }
  // A prompt longer than the context.
  std::string huge;
  for (int i = 0; i < 900; ++i) huge += "word" + std::to_string(i) + " ";
  auto big = http_post(s.port(), "/v1/chat/completions", chat_body(huge, 5).dump());
  EXPECT_EQ(big.status, 400);
  EXPECT_EQ(big.j["error"]["code"], "context_length_exceeded");
  // An oversized body.
  auto over = http_post(s.port(), "/v1/chat/completions", chat_body(std::string(200 * 1024, 'a'), 5).dump());
  EXPECT_EQ(over.status, 413) << over.body;
  // Unknown routes.
  EXPECT_EQ(http_get(s.port(), "/v1/nothing").status, 404);
  // Still serving.
  auto ok = http_post(s.port(), "/v1/chat/completions", chat_body("still there?", 3).dump());
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(http_get(s.port(), "/health").status, 200);
}

TEST(ServerSecurity, ApiKeyAndHostHeader) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.api_keys = {"sk-test-123", "second-key"};
  test::TestServer s(model, o);
  const std::string body = chat_body("hi", 2).dump();
  EXPECT_EQ(http_post(s.port(), "/v1/chat/completions", body).status, 401);
  auto wrong = http_post(s.port(), "/v1/chat/completions", body, {{"Authorization", "Bearer sk-test-124"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.j["error"]["type"], "authentication_error");
  EXPECT_EQ(http_post(s.port(), "/v1/chat/completions", body, {{"Authorization", "sk-test-123"}}).status, 401);
  EXPECT_EQ(http_post(s.port(), "/v1/chat/completions", body, {{"Authorization", "Bearer sk-test-123"}}).status, 200);
  EXPECT_EQ(http_post(s.port(), "/v1/chat/completions", body, {{"Authorization", "Bearer second-key"}}).status, 200);
  EXPECT_EQ(http_get(s.port(), "/v1/models").status, 401);
  EXPECT_EQ(http_get(s.port(), "/metrics").status, 401);
  EXPECT_EQ(http_get(s.port(), "/health").status, 200) << "health needs no key";
  // DNS rebinding: a foreign Host is refused even with the key.
  auto evil = http_get(s.port(), "/health", {{"Host", "attacker.example:" + std::to_string(s.port())}});
  EXPECT_EQ(evil.status, 403);
  EXPECT_EQ(http_get(s.port(), "/health", {{"Host", "localhost:" + std::to_string(s.port())}}).status, 200);
  EXPECT_EQ(http_get(s.port(), "/health", {{"Host", "[::1]:" + std::to_string(s.port())}}).status, 200);
  EXPECT_EQ(http_get(s.port(), "/health", {{"Host", "127.0.0.1:1"}}).status, 403);
  // A rejected POST with a body must not confuse the next request on the connection.
  auto c = s.client();
  auto r1 = c->Post("/v1/chat/completions", body, "application/json");
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 401);
  auto r2 = c->Post("/v1/chat/completions", {{"Authorization", "Bearer sk-test-123"}}, body, "application/json");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
}

TEST(ServerCompletions, TextLogprobsEchoAndFim) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer s(model);
  auto r = http_post(s.port(), "/v1/completions",
                     R"({"prompt": "def fib(n):", "max_tokens": 6, "temperature": 0, "logprobs": 3, "echo": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["object"], "text_completion");
  const auto& ch = r.j["choices"][0];
  EXPECT_EQ(ch["text"].get<std::string>().rfind("def fib(n):", 0), 0u);
  ASSERT_TRUE(ch["logprobs"].is_object());
  EXPECT_EQ(ch["logprobs"]["tokens"].size(), ch["logprobs"]["token_logprobs"].size());
  EXPECT_EQ(ch["logprobs"]["tokens"].size(), static_cast<size_t>(r.j["usage"]["completion_tokens"].get<int>()));
  if (!ch["logprobs"]["top_logprobs"].empty()) {
    EXPECT_LE(ch["logprobs"]["top_logprobs"][0].size(), 3u);
  }
  // FIM: the DeepSeek-V3 vocabulary has the fim tokens.
  auto f = http_post(s.port(), "/v1/completions", R"({"prompt": "def add(a, b):\n    ", "suffix": "\n    return c", "max_tokens": 4})");
  EXPECT_EQ(f.status, 200) << f.body;
  auto tok = http_post(s.port(), "/v1/completions", R"({"prompt": [0, 100, 200], "max_tokens": 2})");
  EXPECT_EQ(tok.status, 200) << tok.body;
  EXPECT_EQ(tok.j["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(http_post(s.port(), "/v1/completions", R"({"prompt": [0, -1]})").status, 400);
  EXPECT_EQ(http_post(s.port(), "/v1/completions", R"({"max_tokens": 2})").status, 400);
  auto st = http_stream(s.port(), "/completions", R"({"prompt": "Once upon", "max_tokens": 5, "stream": true, "temperature": 0})");
  ASSERT_TRUE(st.done);
  EXPECT_EQ(st.chunks.back()["object"], "text_completion");
}

TEST(ServerChat, LogprobsInChat) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer s(model);
  auto r = http_post(s.port(), "/v1/chat/completions", chat_body("hi", 4, {{"logprobs", true}, {"top_logprobs", 20}, {"ignore_eos", true}}).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& lp = r.j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 4u);
  for (const auto& e : lp) {
    EXPECT_LE(e["logprob"].get<double>(), 0.0);
    ASSERT_EQ(e["top_logprobs"].size(), 20u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(e["token"], e["top_logprobs"][0]["token"]);
    EXPECT_TRUE(e["bytes"].is_array());
  }
}

TEST(ServerChat, ReasoningContentSplitForR1StyleTemplates) {
  QS_REQUIRE_SERVER_MODEL(model);
  const std::string tmpl_path = (std::filesystem::temp_directory_path() / ("qiusuo_r1_tmpl_" + std::to_string(getpid()) + ".jinja")).string();
  {
    std::ofstream out(tmpl_path);
    out << "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
           "{% elif m['role'] == 'assistant' %}<｜Assistant｜>{{ m['content'] }}<｜end▁of▁sentence｜>{% endif %}{% endfor %}"
           "{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}";
  }
  server::ServerOptions o;
  o.chat_template_file = tmpl_path;
  test::TestServer s(model, o);
  std::filesystem::remove(tmpl_path);
  // Random weights never write </think>: everything is reasoning, the answer is empty.
  auto r = http_post(s.port(), "/v1/chat/completions", chat_body("think about it", 10, {{"ignore_eos", true}}).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& m = r.j["choices"][0]["message"];
  ASSERT_TRUE(m.contains("reasoning_content"));
  EXPECT_FALSE(m["reasoning_content"].get<std::string>().empty());
  EXPECT_EQ(m["content"], "");
  EXPECT_GT(r.j["usage"]["completion_tokens_details"]["reasoning_tokens"].get<int>(), 0);
  auto st = http_stream(s.port(), "/v1/chat/completions", chat_body("think about it", 10, {{"ignore_eos", true}, {"stream", true}}).dump());
  ASSERT_TRUE(st.done);
  EXPECT_EQ(test::stream_content(st, "reasoning_content"), m["reasoning_content"].get<std::string>());
  EXPECT_EQ(test::stream_content(st, "content"), "");
}

TEST(ServerChatOutput, ParsesDeepSeekToolCallsAndHoldsTheBlockBack) {
  QS_REQUIRE_SERVER_MODEL(model);
  auto m = Model::load(model);
  const Tokenizer tok = Tokenizer::from_gguf(m->file());
  server::ChatOutput::Options o;
  o.tools = true;
  server::ChatOutput out(tok, o);
  const std::vector<std::string> pieces = {"Let me check.", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "function",
                                           "<｜tool▁sep｜>", "get_weather\n```json\n{\"city\": ", "\"Paris\"}\n```",
                                           "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>"};
  const auto [streamed, reasoning, last] = test::stream_pieces(out, pieces);
  EXPECT_EQ(streamed, "Let me check.");
  ASSERT_TRUE(last.tool_calls.is_array());
  ASSERT_EQ(last.tool_calls.size(), 1u);
  EXPECT_EQ(last.tool_calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(last.tool_calls[0]["function"]["arguments"].get<std::string>())["city"], "Paris");
  EXPECT_EQ(out.finish_reason(), "tool_calls");
  const json msg = out.message();
  EXPECT_EQ(msg["tool_calls"][0]["type"], "function");
  EXPECT_EQ(msg["content"], "Let me check.");

  // A broken block is returned as plain content.
  server::ChatOutput bad(tok, o);
  EXPECT_EQ(test::stream_pieces(bad, {"Hi ", "<｜tool▁calls▁begin｜>", "garbage"}).content, "Hi <｜tool▁calls▁begin｜>garbage");
  EXPECT_EQ(bad.finish_reason(), "stop");
}

// V3.2's DSML block streams like the other formats: text before it shown, the block held back and
// returned as tool_calls at the end.
TEST(ServerChatOutput, ParsesDsmlToolCallsAndHoldsTheBlockBack) {
  QS_REQUIRE_SERVER_MODEL(model);
  auto m = Model::load(model);
  const Tokenizer tok = Tokenizer::from_gguf(m->file());
  server::ChatOutput::Options o;
  o.tools = true;
  server::ChatOutput out(tok, o);
  const std::vector<std::string> pieces = {"Sure.", "\n\n<｜DSML", "｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n",
                                           "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n",
                                           "</｜DSML｜invoke>\n</｜DSML｜function_calls>"};
  const auto [streamed, reasoning, last] = test::stream_pieces(out, pieces);
  EXPECT_EQ(streamed, "Sure.\n\n");
  ASSERT_TRUE(last.tool_calls.is_array());
  ASSERT_EQ(last.tool_calls.size(), 1u);
  EXPECT_EQ(last.tool_calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(last.tool_calls[0]["function"]["arguments"].get<std::string>())["city"], "Paris");
  EXPECT_EQ(out.finish_reason(), "tool_calls");
  EXPECT_EQ(out.message()["content"], "Sure.");
}

TEST(ServerChat, ToolsAndJsonModeAreAccepted) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer s(model);
  json b = chat_body("What's the weather in Paris?", 4);
  b["tools"] = json::parse(R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");
  b["tool_choice"] = "auto";
  auto r = http_post(s.port(), "/v1/chat/completions", b.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  b["tool_choice"] = json{{"type", "function"}, {"function", {{"name", "nope"}}}};
  EXPECT_EQ(http_post(s.port(), "/v1/chat/completions", b.dump()).status, 400);
  json j = chat_body("Give me JSON", 4, {{"response_format", {{"type", "json_object"}}}});
  EXPECT_EQ(http_post(s.port(), "/v1/chat/completions", j.dump()).status, 200);
  // A multi-turn conversation with a tool result renders.
  json t = chat_body("x", 3);
  t["messages"] = json::parse(R"([{"role": "user", "content": "weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])");
  auto tr = http_post(s.port(), "/v1/chat/completions", t.dump());
  EXPECT_EQ(tr.status, 200) << tr.body;
}

TEST(ServerTimeout, RequestDeadlineEndsWithAnError) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.timeout_s = 1;
  o.parallel = 1;
  test::TestServer s(model, o);
  const auto t0 = std::chrono::steady_clock::now();
  auto st = http_stream(s.port(), "/v1/chat/completions", chat_body("long", 900, {{"ignore_eos", true}, {"stream", true}}).dump());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 10.0);
  ASSERT_FALSE(st.chunks.empty());
  EXPECT_TRUE(st.chunks.back().contains("error")) << st.raw.substr(st.raw.size() > 400 ? st.raw.size() - 400 : 0);
  EXPECT_FALSE(st.done);
  EXPECT_TRUE(test::wait_until([&] { return metric(s.port(), "qiusuo_requests_running") == 0; }, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace qs
