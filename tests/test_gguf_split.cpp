// Split GGUF sets (gguf-split's NAME-0000i-of-0000N.gguf): opened from any shard, they hold exactly the
// single file's tensors and give its logits; every malformed set is an error naming the file at fault.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "test_util.h"

namespace qs {
namespace {

namespace fs = std::filesystem;

// Where the shards of one test go (removed by the fixture).
class GgufSplit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qiusuo_split_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string shard(const std::string& stem, uint32_t i, uint32_t n) const {
    char buf[40];
    std::snprintf(buf, sizeof buf, "-%05u-of-%05u.gguf", i, n);
    return (dir_ / (stem + buf)).string();
  }

  struct SplitOptions {
    uint32_t count = 3;
    int count_key_of_last = -1;      // a different split.count in the last shard
    bool duplicate_a_tensor = false;  // the first tensor also in the last shard
  };

  // Cuts src into opt.count shards as gguf-split does: the first gets all metadata, every shard the
  // split keys and a contiguous run of tensors.
  void write_split(const GgufFile& src, const std::string& stem, const SplitOptions& opt) const {
    const auto& ts = src.tensors();
    const size_t per = (ts.size() + opt.count - 1) / opt.count;
    for (uint32_t i = 0; i < opt.count; ++i) {
      GgufWriter w(shard(stem, i + 1, opt.count));
      if (i == 0)
        for (const auto& [k, v] : src.metadata())
          if (k != "general.alignment") w.set(k, v);
      const bool last = i + 1 == opt.count;
      w.set("split.no", GgufValue::make_u32(i));
      w.set("split.count", GgufValue::make_u32(last && opt.count_key_of_last >= 0 ? static_cast<uint32_t>(opt.count_key_of_last) : opt.count));
      w.set("split.tensors.count", GgufValue::make_i32(static_cast<int32_t>(ts.size())));
      std::vector<const GgufTensorInfo*> mine;
      for (size_t k = i * per; k < std::min(ts.size(), (i + 1) * per); ++k) mine.push_back(&ts[k]);
      if (last && opt.duplicate_a_tensor) mine.push_back(&ts[0]);
      for (const auto* t : mine) w.add_tensor(t->name, t->ne, t->type);
      w.write_header();
      for (const auto* t : mine) w.write_tensor_data(t->name, t->data, t->nbytes);
      w.finish();
    }
  }

  fs::path dir_;
};

const std::string kModel = "ds3-small.f16.gguf";

// Every position's logits of tokens evaluated from position 0.
std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& tokens) {
  auto m = Model::load(path);
  auto seq = m->new_sequence(static_cast<int>(tokens.size()) + 8);
  std::vector<float> out(tokens.size() * static_cast<size_t>(m->n_vocab()));
  m->forward(*seq, tokens.data(), static_cast<int>(tokens.size()), out.data(), true);
  return out;
}

TEST_F(GgufSplit, OpensFromAnyShardWithTheSingleFilesTensors) {
  const auto single = GgufFile::open(test::model_path(kModel));
  write_split(*single, "m", {});
  for (uint32_t from : {1u, 2u, 3u}) {
    const auto set = GgufFile::open(shard("m", from, 3));
    EXPECT_EQ(set->path(), shard("m", 1, 3)) << "opened from shard " << from;
    ASSERT_EQ(set->tensors().size(), single->tensors().size());
    for (const auto& t : single->tensors()) {
      const GgufTensorInfo* u = set->find_tensor(t.name);
      ASSERT_NE(u, nullptr) << t.name;
      EXPECT_EQ(u->ne, t.ne) << t.name;
      EXPECT_EQ(u->type, t.type) << t.name;
      ASSERT_EQ(u->nbytes, t.nbytes) << t.name;
      EXPECT_EQ(std::memcmp(u->data, t.data, t.nbytes), 0) << t.name;
    }
    const auto shards = set->shards();
    ASSERT_EQ(shards.size(), 3u);
    size_t bytes = 0, tensors = 0;
    for (const auto& s : shards) bytes += s.size, tensors += s.n_tensors;
    EXPECT_EQ(bytes, set->file_size());
    EXPECT_EQ(tensors, single->tensors().size());
    EXPECT_EQ(shards[2].path, shard("m", 3, 3));
  }
}

TEST_F(GgufSplit, GivesTheSingleFilesLogits) {
  const auto single = GgufFile::open(test::model_path(kModel));
  write_split(*single, "m", {});
  const std::vector<int32_t> tokens = {1, 17, 42, 99, 5, 230};
  EXPECT_EQ(logits_of(shard("m", 2, 3), tokens), logits_of(test::model_path(kModel), tokens));
}

// The fixture set cut by ik_llama.cpp's own gguf-split gives the single file's logits.
TEST_F(GgufSplit, PeerCutSetGivesTheSingleFilesLogits) {
  const std::string set = test::fixtures_dir() + "/models/split/ds3-iq.ud-iq1_s-00001-of-00003.gguf";
  const auto f = GgufFile::open(set);
  EXPECT_EQ(f->shards().size(), 3u);
  const std::vector<int32_t> tokens = {1, 7, 300, 45};
  EXPECT_EQ(logits_of(set, tokens), logits_of(test::model_path("ds3-iq.ud-iq1_s.gguf"), tokens));
}

// The error's message must name the file to look at.
void expect_error_naming(const std::string& path, const std::string& culprit, const std::string& what) {
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "opened a set with " << what;
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find(culprit), std::string::npos) << what << ": " << e.what();
  }
}

TEST_F(GgufSplit, MissingShardIsAnErrorNamingIt) {
  const auto single = GgufFile::open(test::model_path(kModel));
  write_split(*single, "m", {});
  fs::remove(shard("m", 2, 3));
  expect_error_naming(shard("m", 1, 3), shard("m", 2, 3), "a missing shard");
  expect_error_naming(shard("m", 3, 3), shard("m", 2, 3), "a missing shard (opened from the last)");
}

TEST_F(GgufSplit, DisagreeingCountsAreAnErrorNamingTheShard) {
  const auto single = GgufFile::open(test::model_path(kModel));
  write_split(*single, "m", {.count = 3, .count_key_of_last = 4});
  expect_error_naming(shard("m", 1, 3), shard("m", 3, 3), "split.count disagreeing");
}

TEST_F(GgufSplit, TensorInTwoShardsIsAnErrorNamingIt) {
  const auto single = GgufFile::open(test::model_path(kModel));
  write_split(*single, "m", {.count = 3, .duplicate_a_tensor = true});
  expect_error_naming(shard("m", 1, 3), single->tensors()[0].name, "a tensor twice");
}

TEST_F(GgufSplit, ShardOfAnotherSetIsAnErrorNamingIt) {
  const auto single = GgufFile::open(test::model_path(kModel));
  write_split(*single, "m", {});
  const auto other = GgufFile::open(test::model_path("tiny-llama.f32.gguf"));
  write_split(*other, "o", {});
  fs::copy_file(shard("o", 2, 3), shard("m", 2, 3), fs::copy_options::overwrite_existing);
  expect_error_naming(shard("m", 1, 3), shard("m", 2, 3), "a shard of another set");
}

TEST_F(GgufSplit, ShardWithoutTheNamePatternIsAnError) {
  const auto single = GgufFile::open(test::model_path(kModel));
  write_split(*single, "m", {});
  const std::string renamed = (dir_ / "renamed.gguf").string();
  fs::rename(shard("m", 1, 3), renamed);
  expect_error_naming(renamed, "NAME-00001-of-00003.gguf", "a shard renamed");
}

}  // namespace
}  // namespace qs
