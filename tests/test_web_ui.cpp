// The chat page at "/" in headless Chromium: two `qiusuo serve` processes on the synthetic model
// (one answering in content, one with the DeepSeek-R1 template so answers stream as reasoning) and
// tests/web_ui/page_test.mjs driving the page through playwright-core (conversation, streaming,
// settings, Stop, the collapsible thinking section, no request off the server's origin).
#include <sys/wait.h>

#include <cstdlib>

#include "server_test_util.h"

namespace qs {
namespace {

using test::ServeProcess;

std::string chromium_path() {
  const char* env = std::getenv("CHROMIUM_PATH");
  return env && *env ? env : "/usr/bin/chromium";
}

TEST(WebUi, PageWorksInHeadlessChromium) {
  QS_REQUIRE_SERVER_MODEL(model);
  const std::string src = QIUSUO_SOURCE_DIR;
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  if (!std::filesystem::exists(src + "/node_modules/playwright-core/package.json"))
    GTEST_SKIP() << "the playwright-core npm package is not installed (npm install)";
  if (!std::filesystem::exists(chromium_path())) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  std::signal(SIGPIPE, SIG_IGN);

  ServeProcess plain(model, {"--parallel", "1"});
  ServeProcess r1(model, {"--parallel", "1", "--chat-template-file", std::string(QIUSUO_FIXTURES_DIR) + "/chat/deepseek-r1.jinja"});
  ASSERT_GT(plain.port, 0) << plain.first_line;
  ASSERT_GT(r1.port, 0) << r1.first_line;
  for (int port : {plain.port, r1.port})
    ASSERT_TRUE(test::wait_until([&] { return test::http_get(port, "/health").status == 200; }, std::chrono::seconds(20)));

  const std::string cmd = "cd " + src + " && CHROMIUM_PATH=" + chromium_path() + " timeout -k 5 55 node tests/web_ui/page_test.mjs http://127.0.0.1:" +
                          std::to_string(plain.port) + "/ http://127.0.0.1:" + std::to_string(r1.port) + "/ 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int st = pclose(f);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  EXPECT_NE(out.find("ok: all checks passed"), std::string::npos) << out;
}

}  // namespace
}  // namespace qs
