// Tensors the forward pass does not use — DeepSeek-V3's multi-token-prediction layer (counted in
// block_count, stored as blk.N and blk.N.nextn.*), vision towers, unknown extras — are skipped, not an
// error: the model computes what it computed without them, and `info` lists them.
#include <gtest/gtest.h>

#include <unistd.h>

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

// A tensor added to a copy: `name` with the shape, type and bytes of `like`.
struct Extra {
  std::string name;
  const GgufTensorInfo* like;
};

// src written to path with metadata keys set (added or replaced) and extra tensors appended.
void write_copy(const GgufFile& src, const std::string& path, const std::vector<std::pair<std::string, GgufValue>>& set,
                const std::vector<Extra>& extras) {
  GgufWriter w(path);
  for (const auto& [k, v] : src.metadata())
    if (k != "general.alignment") w.set(k, v);
  for (const auto& [k, v] : set) w.set(k, v);
  for (const auto& t : src.tensors()) w.add_tensor(t.name, t.ne, t.type);
  for (const auto& e : extras) w.add_tensor(e.name, e.like->ne, e.like->type);
  w.write_header();
  for (const auto& t : src.tensors()) w.write_tensor_data(t.name, t.data, t.nbytes);
  for (const auto& e : extras) w.write_tensor_data(e.name, e.like->data, e.like->nbytes);
  w.finish();
}

// src with one MTP layer appended (block_count + 1, nextn_predict_layers 1) and a vision tensor.
std::string write_with_extras(const GgufFile& src, const std::string& path) {
  const std::string arch = *src.get_string("general.architecture");
  const uint64_t n_layer = *src.get_uint(arch + ".block_count");
  const std::string mtp = "blk." + std::to_string(n_layer) + ".";
  const GgufTensorInfo* norm = src.find_tensor("blk.0.attn_norm.weight");
  write_copy(src, path,
             {{arch + ".block_count", GgufValue::make_u32(static_cast<uint32_t>(n_layer + 1))},
              {arch + ".nextn_predict_layers", GgufValue::make_u32(1)}},
             {{mtp + "attn_norm.weight", norm}, {mtp + "nextn.eh_proj.weight", norm}, {"v.patch_embd.weight", norm}});
  return mtp;
}

TEST(UnusedTensors, MtpLayerAndVisionTowerAreSkippedNotAnError) {
  const std::string path = (fs::temp_directory_path() / ("qiusuo_extras_" + std::to_string(getpid()) + ".gguf")).string();
  const std::string original = test::model_path("ds3-small.f16.gguf");
  const auto src = GgufFile::open(original);
  const std::string mtp = write_with_extras(*src, path);

  auto m = Model::load(path);
  auto ref = Model::load(original);
  EXPECT_EQ(m->config().n_layer, ref->config().n_layer);
  EXPECT_EQ(m->config().n_nextn, 1);
  const std::vector<std::string> want = {mtp + "attn_norm.weight", mtp + "nextn.eh_proj.weight", "v.patch_embd.weight"};
  EXPECT_EQ(m->weights().unused, want);
  EXPECT_TRUE(ref->weights().unused.empty());

  const std::vector<int32_t> tokens = {1, 40, 7, 300};
  auto logits = [&](const Model& model) {
    auto seq = model.new_sequence(8);
    std::vector<float> out(tokens.size() * static_cast<size_t>(model.n_vocab()));
    model.forward(*seq, tokens.data(), static_cast<int>(tokens.size()), out.data(), true);
    return out;
  };
  EXPECT_EQ(logits(*m), logits(*ref));

  const test::ShellResult info = test::run_shell(std::string(QIUSUO_CLI_PATH) + " info -m " + path + " 2>&1");
  EXPECT_EQ(info.status, 0) << info.out;
  EXPECT_NE(info.out.find("(+1 multi-token-prediction, not run)"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("multi-token prediction x2"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("vision x1"), std::string::npos) << info.out;
  fs::remove(path);
}

TEST(UnusedTensors, NextnCountReachingBlockCountIsAnError) {
  const std::string path = (fs::temp_directory_path() / ("qiusuo_nextn_" + std::to_string(getpid()) + ".gguf")).string();
  const auto src = GgufFile::open(test::model_path("ds3-small.f16.gguf"));
  write_copy(*src, path,
             {{"deepseek2.nextn_predict_layers",
               GgufValue::make_u32(static_cast<uint32_t>(*src->get_uint("deepseek2.block_count")))}},
             {});
  try {
    Model::load(path);
    ADD_FAILURE() << "loaded a model whose every layer is an MTP layer";
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("nextn_predict_layers"), std::string::npos) << e.what();
  }
  fs::remove(path);
}

}  // namespace
}  // namespace qs
