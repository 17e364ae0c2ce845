// Resource limits decided up front: a model or cache that does not fit in memory is refused with a
// message that says how much it needs; forward passes keep their scratch bounded however long the
// prompt. The memory limit is lowered with QIUSUO_MEMORY_LIMIT_MIB so the tests work on any machine.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "model/memory_budget.h"
#include "model/model.h"
#include "test_util.h"

namespace qs {
namespace {

// Sets an environment variable for one test's scope (tests may share a process).
struct ScopedEnv {
  std::string name;
  ScopedEnv(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

const std::string kModel = test::model_path("ds3-small.q8_0.gguf");  // 4.7 MiB of weights

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ResourceError& e) {
    return e.what();
  }
  return "";
}

TEST(MemoryBudget, LimitComesFromTheMachineOrTheEnvironment) {
  const MemoryLimit real = memory_limit();
  EXPECT_GT(real.bytes, uint64_t{64} << 20);
  EXPECT_FALSE(real.source.empty());
  ScopedEnv env("QIUSUO_MEMORY_LIMIT_MIB", "3");
  const MemoryLimit low = memory_limit();
  EXPECT_EQ(low.bytes, uint64_t{3} << 20);
  EXPECT_EQ(low.source, "QIUSUO_MEMORY_LIMIT_MIB");
  ScopedEnv junk("QIUSUO_MEMORY_LIMIT_MIB", "lots");  // ignored, not fatal
  EXPECT_EQ(memory_limit().bytes, real.bytes);
}

TEST(MemoryBudget, ModelLargerThanTheLimitIsRefusedWithTheSizeNeeded) {
  ScopedEnv env("QIUSUO_MEMORY_LIMIT_MIB", "2");
  const std::string msg = error_of([] { Model::load(kModel); });
  ASSERT_FALSE(msg.empty()) << "a 4.7 MiB model loaded under a 2 MiB limit";
  EXPECT_NE(msg.find("ds3-small.q8_0.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("needs 5 MiB (weights 5 MiB)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit is 2 MiB (QIUSUO_MEMORY_LIMIT_MIB)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--no-mem-check"), std::string::npos) << msg;
  ScopedEnv off("QIUSUO_NO_MEM_CHECK", "1");
  EXPECT_NO_THROW(Model::load(kModel));
}

TEST(MemoryBudget, ContextThatDoesNotFitIsRefusedBeforeAllocating) {
  ScopedEnv env("QIUSUO_MEMORY_LIMIT_MIB", "16");
  auto m = Model::load(kModel);
  EXPECT_NO_THROW(m->new_sequence(4096));  // 5 MiB + 2.3 MiB
  const std::string msg = error_of([&] { m->new_sequence(100000); });
  EXPECT_NE(msg.find("KV cache (1 × 100000 tokens)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("55 MiB"), std::string::npos) << msg;  // 576 B/token × 100k
  // Serving: every slot counts.
  const MemoryNeed need = m->memory_need(8, 4096);
  EXPECT_EQ(need.total(), m->weight_bytes() + uint64_t{8} * 4096 * m->kv_bytes_per_token());
  EXPECT_THROW(require_memory(need, "x"), ResourceError);
}

TEST(MemoryBudget, CliRefusesAndNoMemCheckOverrides) {
  const std::string cli = std::string("QIUSUO_MEMORY_LIMIT_MIB=2 ") + QIUSUO_CLI_PATH;
  const auto refused = test::run_shell(cli + " generate -m " + kModel + " --tokens 1,2,3 -n 2 --ids 2>&1");
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.out.find("needs 5 MiB"), std::string::npos) << refused.out;
  for (const char* args : {" generate --no-mem-check -m ", " --no-mem-check generate -m "}) {
    const auto ok = test::run_shell(cli + args + kModel + " --tokens 1,2,3 -n 2 --ids 2>&1");
    EXPECT_EQ(ok.status, 0) << args << ok.out;
  }
  // info describes the file anyway and says it will not fit.
  const auto info = test::run_shell(cli + " info -m " + kModel + " 2>&1");
  EXPECT_EQ(info.status, 0) << info.out;
  EXPECT_NE(info.out.find("does NOT fit"), std::string::npos) << info.out;
  // serve checks all slots and the prefix cache before it allocates them.
  const auto serve = test::run_shell(std::string("QIUSUO_MEMORY_LIMIT_MIB=64 timeout 60 ") + QIUSUO_CLI_PATH +
                                     " serve -m " + kModel + " --port 0 --parallel 4 --ctx-size 4096 --cache-mib 256 2>&1");
  EXPECT_NE(serve.status, 0);
  EXPECT_NE(serve.out.find("prefix cache (--cache-mib) 256 MiB"), std::string::npos) << serve.out;
}

TEST(MemoryBudget, ServeRefusesUnboundedBatchAndContextFlags) {
  for (const std::string flags : {"--batch-tokens 0", "--batch-tokens 100000", "--ctx-size 2000000"}) {
    const auto r = test::run_shell(std::string("timeout 60 ") + QIUSUO_CLI_PATH + " serve -m " + kModel + " --port 0 " +
                                   flags + " 2>&1");
    EXPECT_EQ(r.status, 1) << flags << ": " << r.out;
    EXPECT_NE(r.out.find(flags.substr(0, flags.find(' '))), std::string::npos) << flags << ": " << r.out;
  }
}

TEST(ForwardLimits, LongPromptsRunInBoundedChunksWithTheSameResult) {
  auto m = Model::load(test::model_path("ds3-small.f16.gguf"));
  std::mt19937 rng(7);
  std::vector<int32_t> toks(1300);
  for (auto& t : toks) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(m->n_vocab()));
  const int V = m->n_vocab();
  // forward() splits 1300 tokens into 512-token passes; compare with hand-made chunks of 100.
  auto a = m->new_sequence(1400);
  std::vector<float> whole(toks.size() * V);
  m->forward(*a, toks.data(), static_cast<int>(toks.size()), whole.data(), true);
  EXPECT_EQ(a->n_past, 1300);
  auto b = m->new_sequence(1400);
  std::vector<float> parts(toks.size() * V);
  for (size_t p = 0; p < toks.size(); p += 100)
    m->forward(*b, &toks[p], 100, &parts[p * V], true);
  EXPECT_LT(test::max_abs_diff(whole.data(), parts.data(), whole.size()), 1e-3);
  // Last-row logits only: the same as the last row above.
  auto c = m->new_sequence(1400);
  std::vector<float> last(static_cast<size_t>(V));
  m->forward(*c, toks.data(), static_cast<int>(toks.size()), last.data(), false);
  EXPECT_LT(test::max_abs_diff(last.data(), &whole[(toks.size() - 1) * V], V), 1e-3);
  // A prompt that overflows the context is refused before any chunk runs.
  auto d = m->new_sequence(1000);
  EXPECT_THROW(m->forward(*d, toks.data(), static_cast<int>(toks.size()), nullptr, false), std::out_of_range);
  EXPECT_EQ(d->n_past, 0);
  // One pass is capped; callers chunk.
  std::vector<Model::BatchToken> huge(static_cast<size_t>(8 * Model::kMaxBatchTokens + 1), {d.get(), 1, false});
  EXPECT_THROW(m->forward_batch(huge, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace qs
