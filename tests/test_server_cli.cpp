// `qiusuo serve` as a process: the "listening on" line with --port 0, and SIGTERM handling
// (drain in-flight streams, 503 for new requests, exit 0; a second signal exits at once).
#include <future>

#include "server_test_util.h"
#include "test_util.h"

namespace qs {
namespace {

using test::chat_body;
using test::json;

using test::ServeProcess;

TEST(ServerCli, PortZeroPrintsListeningLineAndSigtermDrains) {
  QS_REQUIRE_SERVER_MODEL(model);
  std::signal(SIGPIPE, SIG_IGN);
  ServeProcess p(model, {"--parallel", "2"});
  ASSERT_GT(p.port, 0) << "first line: " << p.first_line;
  ASSERT_TRUE(test::wait_until([&] { return test::http_get(p.port, "/health").status == 200; }, std::chrono::seconds(30)));
  std::atomic<int> chunks{0};
  auto stream = std::async(std::launch::async, [&] {
    return test::http_stream(p.port, "/v1/chat/completions", chat_body("drain me", 250, {{"ignore_eos", true}, {"stream", true}}).dump(),
                             [&](const json&) {
                               ++chunks;
                               return true;
                             });
  });
  ASSERT_TRUE(test::wait_until([&] { return chunks.load() > 2; }, std::chrono::seconds(20)));
  ASSERT_EQ(kill(p.pid, SIGTERM), 0);
  // While draining: new work is refused with 503 and health says so.
  ASSERT_TRUE(test::wait_until([&] { return test::http_get(p.port, "/health").status == 503; }, std::chrono::seconds(5)));
  auto refused = test::http_post(p.port, "/v1/chat/completions", chat_body("too late", 2).dump());
  EXPECT_TRUE(refused.status == 503 || refused.status == -1) << refused.status;
  // The running stream finishes normally.
  auto r = stream.get();
  EXPECT_TRUE(r.done) << r.raw.substr(r.raw.size() > 300 ? r.raw.size() - 300 : 0);
  EXPECT_EQ(r.chunks.back()["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(p.wait_exit(std::chrono::seconds(20)), 0);
}

TEST(ServerCli, SecondSignalExitsImmediately) {
  QS_REQUIRE_SERVER_MODEL(model);
  std::signal(SIGPIPE, SIG_IGN);
  ServeProcess p(model, {"--parallel", "1", "--drain-timeout", "60"});
  ASSERT_GT(p.port, 0) << p.first_line;
  ASSERT_TRUE(test::wait_until([&] { return test::http_get(p.port, "/health").status == 200; }, std::chrono::seconds(30)));
  std::atomic<int> chunks{0};
  auto stream = std::async(std::launch::async, [&] {
    return test::http_stream(p.port, "/v1/chat/completions", chat_body("long", 900, {{"ignore_eos", true}, {"stream", true}}).dump(),
                             [&](const json&) {
                               ++chunks;
                               return true;
                             });
  });
  ASSERT_TRUE(test::wait_until([&] { return chunks.load() > 2; }, std::chrono::seconds(20)));
  kill(p.pid, SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(p.pid, SIGTERM);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = p.wait_exit(std::chrono::seconds(10));
  EXPECT_NE(code, -1);
  EXPECT_NE(code, 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 3.0);
  auto r = stream.get();
  EXPECT_FALSE(r.done);
}

TEST(ServerCli, OpenAiNodeClient) {
  QS_REQUIRE_SERVER_MODEL(model);
  const std::string script = std::string(QIUSUO_SOURCE_DIR) + "/tests/server_openai/client.mjs";
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  if (!std::filesystem::exists(std::string(QIUSUO_SOURCE_DIR) + "/node_modules/openai/package.json"))
    GTEST_SKIP() << "the openai npm package is not installed (npm install)";
  server::ServerOptions o;
  o.api_keys = {"sk-node-test"};
  o.parallel = 2;
  test::TestServer s(model, o);
  const std::string cmd = "cd " + std::string(QIUSUO_SOURCE_DIR) + " && timeout 60 node " + script + " http://127.0.0.1:" +
                          std::to_string(s.port()) + "/v1 sk-node-test 2>&1";
  const test::ShellResult r = test::run_shell(cmd);
  const std::string& out = r.out;
  EXPECT_EQ(r.status, 0) << out;
  EXPECT_NE(out.find("ok: all checks passed"), std::string::npos) << out;
}

}  // namespace
}  // namespace qs
