// Hostile model files: every systematically corrupted variant of real GGUFs (tests/gguf_corruptor.h)
// goes through what `qiusuo run` does with a file — parse, load the model, build the tokenizer and
// the chat template, one forward step — and must either be refused with a clear error or, where the
// change leaves a well-formed file, run cleanly. The suite also runs under ASan+UBSan, which turns
// any out-of-bounds read on the way into a failure.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "gguf/gguf_file.h"
#include "gguf_corruptor.h"
#include "model/model.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace qs {
namespace {

constexpr const char* kLabel = "corrupt.gguf";

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs the pipeline on bytes; returns "" when everything succeeded, else the error message.
std::string load_and_run(const uint8_t* data, size_t size) {
  try {
    auto f = GgufFile::from_memory(data, size, kLabel);
    const bool has_vocab = f->find("tokenizer.ggml.tokens") != nullptr;
    const auto tmpl = f->get_string("tokenizer.chat_template");
    LoadOptions opt;
    opt.repack = LoadOptions::Repack::Off;
    auto m = Model::from_file(std::move(f), opt);
    if (has_vocab) (void)Tokenizer::from_gguf(m->file());
    if (tmpl) ChatTemplate t(*tmpl);
    auto seq = m->new_sequence(8);
    std::vector<float> logits(static_cast<size_t>(m->n_vocab()));
    const int32_t tok = 1 % m->n_vocab();
    m->forward(*seq, &tok, 1, logits.data(), false);
    return "";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    return msg.empty() ? "(empty message)" : msg;
  }
}

struct Tally {
  int tried = 0, refused = 0, ran = 0;
  std::map<std::string, int> by_category;
};

// Applies every variant of one file in place (restoring it after each) and checks the outcome.
Tally corrupt_all(const std::string& path) {
  std::vector<uint8_t> bytes = slurp(path);
  EXPECT_FALSE(bytes.empty()) << path;
  EXPECT_EQ(load_and_run(bytes.data(), bytes.size()), "") << "the original must load: " << path;
  const std::vector<uint8_t> original = bytes;
  test::GgufCorruptor corruptor(original);
  Tally tally;
  for (const test::GgufVariant& v : corruptor.variants()) {
    for (const auto& [off, patch] : v.patches) std::copy(patch.begin(), patch.end(), bytes.begin() + static_cast<long>(off));
    const size_t len = std::min(v.length, bytes.size());
    // A truncated file gets its own exact-size copy so ASan sees reads past its end.
    std::vector<uint8_t> cut;
    const uint8_t* data = bytes.data();
    if (len < bytes.size()) {
      cut.assign(bytes.begin(), bytes.begin() + static_cast<long>(len));
      data = cut.data();
    }
    const std::string err = load_and_run(data, len);
    ++tally.tried;
    ++tally.by_category[v.category];
    if (err.empty()) {
      ++tally.ran;
      EXPECT_FALSE(v.must_refuse) << path << ": accepted a corrupted file: " << v.what;
    } else {
      ++tally.refused;
      // Clear: says which file, or at least what is wrong in more than a word.
      EXPECT_GE(err.size(), 12u) << v.what << ": " << err;
      if (err.find(kLabel) == std::string::npos)
        ADD_FAILURE() << path << ": " << v.what << ": the error does not name the file: " << err;
    }
    for (const auto& [off, patch] : v.patches)
      std::copy(original.begin() + static_cast<long>(off), original.begin() + static_cast<long>(off + patch.size()),
                bytes.begin() + static_cast<long>(off));
  }
  EXPECT_EQ(bytes, original);
  return tally;
}

void report(const std::string& name, const Tally& t) {
  std::string cats;
  for (const auto& [c, n] : t.by_category) cats += " " + c + "=" + std::to_string(n);
  std::printf("[corrupt] %s: %d variants, %d refused, %d loaded and ran;%s\n", name.c_str(), t.tried, t.refused, t.ran,
              cats.c_str());
}

class GgufCorruption : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufCorruption, EveryVariantIsRefusedOrRunsCleanly) {
  const std::string path = GetParam();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found";
  const Tally t = corrupt_all(path);
  report(std::filesystem::path(path).filename().string(), t);
  EXPECT_GT(t.tried, 200);
  EXPECT_GT(t.refused, t.tried * 8 / 10);  // the generator is not just producing harmless changes
}

INSTANTIATE_TEST_SUITE_P(
    Files, GgufCorruption,
    ::testing::Values(std::string(QIUSUO_FIXTURES_DIR) + "/models/ds3-small.q4_k.gguf",
                      std::string(QIUSUO_FIXTURES_DIR) + "/models/ds3-small-mla.f16.gguf",
                      std::string(QIUSUO_FIXTURES_DIR) + "/models/ds32-small.f16.gguf",
                      std::string(QIUSUO_FIXTURES_DIR) + "/models/tiny-qwen2.f32.gguf",
                      std::string(QIUSUO_FIXTURES_DIR) + "/models/tiny-llama.f32.gguf",
                      std::string(QIUSUO_SOURCE_DIR) + "/fuzz/corpus/gguf/deepseek2-tiny"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string n = std::filesystem::path(info.param).filename().string();
      for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

}  // namespace
}  // namespace qs
