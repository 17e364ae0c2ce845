// The CLI contracts that external checks call: run the real binary and read what it writes.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "test_util.h"

namespace qs {
namespace {

// `qiusuo ARGS` with stdout and stderr together.
test::ShellResult run(const std::string& args) { return test::run_shell(std::string(QIUSUO_CLI_PATH) + " " + args + " 2>&1"); }

std::string join(const std::vector<int32_t>& v, const char* sep) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? sep : "") << v[i];
  return os.str();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("qiusuo_cli_" + std::to_string(getpid()) + "_" + name)).string();
}

TEST(Cli, LogitsWritesEveryPositionAsFloat32) {
  const test::Golden g = test::load_golden("ds3-small.f16.gguf");
  const std::string out = temp_path("logits.f32");
  const test::ShellResult r = run("logits -m " + test::model_path("ds3-small.f16.gguf") + " --tokens " + join(g.prompt, ",") + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  const std::vector<float> got = test::read_f32_file(out);
  std::filesystem::remove(out);
  ASSERT_EQ(got.size(), g.logits.size());
  EXPECT_LE(test::rms_diff(got.data(), g.logits.data(), got.size()), g.rms_tol);
}

TEST(Cli, GenerateGreedyIdsMatchGolden) {
  for (const char* file : {"ds2-small.f16.gguf", "tiny-qwen2.f32.gguf"}) {
    const test::Golden g = test::load_golden(file);
    const test::ShellResult r = run("generate -m " + test::model_path(file) + " --tokens " + join(g.prompt, ",") +
                            " -n 16 --temp 0 --ids --ignore-eos");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, join(g.greedy, " ") + "\n") << file;
  }
}

TEST(Cli, GenerateSeededSamplingIsReproducible) {
  const std::string args = "generate -m " + test::model_path("tiny-llama.f32.gguf") +
                           " --tokens 1,2,3 -n 12 --temp 0.9 --top-p 0.95 --seed 7 --ids --ignore-eos";
  const test::ShellResult a = run(args), b = run(args);
  ASSERT_EQ(a.status, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(std::count(a.out.begin(), a.out.end(), ' '), 11);
}

TEST(Cli, InfoDescribesModel) {
  const test::ShellResult r = run("info -m " + test::model_path("ds3-small-mla.f16.gguf"));
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* want : {"deepseek2", "attn_k_b/attn_v_b", "kv per token", "parameters", "F16", "sigmoid"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
}

// The CLI explains itself: a bare `qiusuo` prints the help, MODEL may be positional wherever -m is
// taken, and serve names a missing file before it says it listens.
TEST(Cli, ExplainsItself) {
  const test::ShellResult bare = run("");
  EXPECT_EQ(bare.status, 0) << bare.out;
  for (const char* want : {"serve", "run", "info", "bench"}) EXPECT_NE(bare.out.find(want), std::string::npos) << want << "\n" << bare.out;
  const test::ShellResult info = run("info " + test::model_path("ds3-small.f16.gguf"));
  EXPECT_EQ(info.status, 0) << info.out;
  EXPECT_NE(info.out.find("deepseek2"), std::string::npos) << info.out;
  const test::ShellResult missing = run("serve --port 0 /nonexistent.gguf");
  EXPECT_NE(missing.status, 0);
  EXPECT_EQ(missing.out.find("listening"), std::string::npos) << missing.out;
}

TEST(Cli, BadInputFailsCleanly) {
  struct Case {
    std::string args, needle;
  };
  const std::string m = test::model_path("tiny-llama.f32.gguf");
  const std::vector<Case> cases = {
      {"info -m /nonexistent.gguf", "cannot open"},
      {"info -m " + test::model_path("ds3-small.f16.golden.json"), "not a GGUF file"},
      {"logits -m " + m + " --tokens 1,x,3 --out /dev/null", "bad token id 'x'"},
      {"logits -m " + m + " --tokens 1,99999 --out /dev/null", "outside the vocabulary"},
      {"generate -m " + m + " --tokens 1 -n 2 --temp -1", "temperature"},
      {"generate -m " + m + " -n 2", "exactly one of --tokens or -p"},
      {"frobnicate", "unknown command 'frobnicate'"},
      {"frobnicate", "serve"},  // the list of commands
      {"serve " + m + " --ctx-size -5", "--ctx-size must be >= 0"},
      {"serve " + m + " --parallel 0", "--parallel must be at least 1"},
      {"serve " + m + " --threads -2", "not in range"},
      {"serve /nonexistent.gguf", "cannot open the model file /nonexistent.gguf"},
      {"serve " + m + " --chat-template-file /nonexistent.jinja", "cannot read --chat-template-file"},
  };
  for (const Case& c : cases) {
    const test::ShellResult r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << "\n" << r.out;
  }
}

}  // namespace
}  // namespace qs

namespace qs {
namespace {

TEST(Cli, BenchJsonCarriesEveryFigure) {
  // A small bandwidth buffer keeps the test quick (the default is 4x the last-level cache).
  const test::ShellResult r = test::run_shell("QIUSUO_BANDWIDTH_MIB=64 " + std::string(QIUSUO_CLI_PATH) + " bench -m " +
                                              test::model_path("ds3-small.q8_0.gguf") + " -p 16 -n 4 -r 2 --json 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"pp16", "pp16_sd", "tg4", "tg4_sd", "roofline_fraction", "bandwidth_gbps", "bytes_per_token",
                          "kv_bytes_per_token", "peak_rss_mib"})
    EXPECT_TRUE(j.contains(key)) << key << "\n" << r.out;
  EXPECT_GT(j["pp16"].get<double>(), 0.0);
  EXPECT_GT(j["tg4"].get<double>(), 0.0);
  EXPECT_GT(j["bandwidth_gbps"].get<double>(), 0.0);
  EXPECT_NEAR(j["bandwidth_buffer_mib"].get<double>(), 64.0, 0.01);
  // F16 cache: 2 bytes per cached value.
  EXPECT_EQ(j["kv_bytes_per_token"].get<uint64_t>() % 2, 0u);
  const test::ShellResult bad = test::run_shell(std::string(QIUSUO_CLI_PATH) + " bench -m " +
                                                test::model_path("ds3-small.q8_0.gguf") + " -r 0 2>&1");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("-r >= 1"), std::string::npos) << bad.out;
}

// -d: the tests run after that many tokens of context (the JSON says so); a negative depth is refused.
TEST(Cli, BenchAtDepth) {
  const std::string base = std::string(QIUSUO_CLI_PATH) + " bench -m " + test::model_path("ds3-small.q8_0.gguf");
  const test::ShellResult r = test::run_shell(base + " -p 8 -n 4 -d 150 -r 1 --json 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["depth"].get<int>(), 150);
  EXPECT_GT(j["pp8"].get<double>(), 0.0);
  EXPECT_GT(j["tg4"].get<double>(), 0.0);
  const test::ShellResult text = test::run_shell(base + " -p 0 -n 4 -d 150 -r 1 2>&1");
  ASSERT_EQ(text.status, 0) << text.out;
  EXPECT_NE(text.out.find("tg4 @ d150"), std::string::npos) << text.out;
  const test::ShellResult bad = test::run_shell(base + " -d -1 2>&1");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("-d must be >= 0"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace qs
