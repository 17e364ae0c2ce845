// Loading reports its progress while the weights are rearranged: bytes never shrink, end at the total, and
// a model whose weights stay mapped reports nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "model/model.h"
#include "test_util.h"

TEST(LoadProgress, RepackReportsGrowingBytesUpToTheTotal) {
  const std::string path = (std::filesystem::temp_directory_path() / ("qiusuo_loadprog_" + std::to_string(getpid()) + ".gguf")).string();
  ASSERT_EQ(qs::test::run_shell(std::string(QIUSUO_CLI_PATH) + " synth --preset tiny --type q8_0 -o " + path + " >/dev/null 2>&1").status, 0);
  std::vector<std::pair<size_t, size_t>> calls;
  qs::LoadOptions o;
  o.repack = qs::LoadOptions::Repack::On;
  o.on_progress = [&](size_t done, size_t total) { calls.emplace_back(done, total); };
  auto m = qs::Model::load(path, o);
  ASSERT_FALSE(calls.empty());
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GE(calls[i].first, calls[i - 1].first);
    EXPECT_EQ(calls[i].second, calls[0].second);
  }
  EXPECT_GT(calls.size(), 2u);
  EXPECT_EQ(calls.back().first, calls.back().second);  // the last report says done (a bar can close)
  calls.clear();
  o.repack = qs::LoadOptions::Repack::Off;
  m = qs::Model::load(path, o);
  EXPECT_TRUE(calls.empty());
  std::filesystem::remove(path);
}
