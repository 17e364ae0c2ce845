// DeepSeek-V3.2's sparse attention (deepseek32): the indexer's kernels against their scalar reference,
// top-k selection, sparse == dense MLA when top_k covers the context, the indexer keys travelling with
// the cache, and malformed indexer keys or tensors refused by name. The golden logits themselves are
// checked with the other fixtures (test_fixtures.cpp, test_engine.cpp).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "kernels/cpu_features.h"
#include "kernels/index_scores.h"
#include "model/dsa_indexer.h"
#include "model/model.h"
#include "tensor/quants.h"
#include "test_util.h"

namespace qs {
namespace {

namespace fs = std::filesystem;

const char* kFile = "ds32-small.f16.gguf";

// score[j] = Σ_h w[h] · max(0, q[h] · K[j]) straight from the definition, in double.
std::vector<double> reference_scores(const std::vector<float>& q, const std::vector<float>& w, const std::vector<float>& K,
                                     int n_head, int dk) {
  const int nk = static_cast<int>(K.size()) / dk;
  std::vector<double> out(static_cast<size_t>(nk));
  for (int j = 0; j < nk; ++j) {
    double s = 0;
    for (int h = 0; h < n_head; ++h) {
      double dot = 0;
      for (int d = 0; d < dk; ++d) dot += static_cast<double>(q[h * dk + d]) * K[static_cast<size_t>(j) * dk + d];
      s += w[h] * std::max(dot, 0.0);
    }
    out[j] = s;
  }
  return out;
}

TEST(Dsa, IndexScoreKernelsMatchTheDefinition) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (int n_head : {8, 20, 64, 72}) {
    for (int dk : {64, 128}) {
      const int nk = 77;  // odd: the AVX-512 kernel's two-key passes end on a single key
      std::vector<float> q(static_cast<size_t>(n_head) * dk), w(n_head), K(static_cast<size_t>(nk) * dk);
      for (float& v : q) v = nd(rng);
      for (float& v : w) v = nd(rng);
      for (float& v : K) v = nd(rng);
      const std::vector<double> want = reference_scores(q, w, K, n_head, dk);
      const IndexQuery pq = prepare_index_query(q.data(), w.data(), n_head, dk);
      for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx512}) {
        if (level > detected_simd_level()) continue;
        std::vector<float> got(static_cast<size_t>(nk));
        index_scores_kernel(level)(reinterpret_cast<const uint8_t*>(K.data()), sizeof(float) * dk, false, nk, pq, got.data());
        for (int j = 0; j < nk; ++j)
          ASSERT_NEAR(got[j], want[j], 1e-4 * (1 + std::fabs(want[j]))) << "heads " << n_head << " dk " << dk << " key " << j
                                                                          << " level " << simd_level_name(level);
      }
      // Keys stored in F16 (the cache's default type) score as their F16 values do.
      std::vector<uint16_t> k16(K.size());
      quantize_row(GgmlType::F16, K.data(), k16.data(), static_cast<int64_t>(K.size()));
      std::vector<float> k16f(K.size());
      dequantize_row(GgmlType::F16, k16.data(), k16f.data(), static_cast<int64_t>(K.size()));
      const std::vector<double> want16 = reference_scores(q, w, k16f, n_head, dk);
      MatView keys;
      keys.data = reinterpret_cast<const uint8_t*>(k16.data());
      keys.type = GgmlType::F16;
      keys.rows = nk;
      keys.cols = dk;
      keys.row_stride = row_bytes(GgmlType::F16, dk);
      for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::Avx512}) {
        if (level > detected_simd_level()) continue;
        std::vector<float> got(static_cast<size_t>(nk));
        index_scores_kernel(level)(keys.data, keys.row_stride, true, nk, pq, got.data());
        for (int j = 0; j < nk; ++j)
          ASSERT_NEAR(got[j], want16[j], 1e-4 * (1 + std::fabs(want16[j]))) << "F16 key " << j << " " << simd_level_name(level);
      }
      // Other types go through a float copy: a BF16 key scores as its BF16 value.
      std::vector<uint16_t> kb(K.size());
      quantize_row(GgmlType::BF16, K.data(), kb.data(), static_cast<int64_t>(K.size()));
      std::vector<float> kbf(K.size());
      dequantize_row(GgmlType::BF16, kb.data(), kbf.data(), static_cast<int64_t>(K.size()));
      const std::vector<double> wantb = reference_scores(q, w, kbf, n_head, dk);
      keys.data = reinterpret_cast<const uint8_t*>(kb.data());
      keys.type = GgmlType::BF16;
      std::vector<float> got(static_cast<size_t>(nk));
      index_scores_st(keys, pq, got.data());
      for (int j = 0; j < nk; ++j) ASSERT_NEAR(got[j], wantb[j], 1e-4 * (1 + std::fabs(wantb[j]))) << "BF16 key " << j;
    }
  }
}

TEST(Dsa, TopKKeepsTheHighestScoresInPositionOrder) {
  const std::vector<float> s = {0.5f, 3.f, -1.f, 3.f, 2.f, 0.f, 7.f, 3.f};
  EXPECT_EQ(top_k_positions(s.data(), 8, 1), std::vector<int32_t>({6}));
  EXPECT_EQ(top_k_positions(s.data(), 8, 3), std::vector<int32_t>({1, 3, 6}));  // a tie goes to the earlier
  EXPECT_EQ(top_k_positions(s.data(), 8, 5), std::vector<int32_t>({1, 3, 4, 6, 7}));
  EXPECT_EQ(top_k_positions(s.data(), 8, 2), std::vector<int32_t>({1, 6}));
  // Against a full sort on random scores with many ties.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> u(0, 40);
  std::vector<float> r(3000);
  for (float& x : r) x = static_cast<float>(u(rng));
  for (int k : {1, 17, 2048, 2999}) {
    std::vector<int32_t> order(r.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return r[a] > r[b]; });
    order.resize(static_cast<size_t>(k));
    std::sort(order.begin(), order.end());
    EXPECT_EQ(top_k_positions(r.data(), static_cast<int>(r.size()), k), order) << "k " << k;
  }
}

// src rewritten to path: metadata keys set, removed or renamed by prefix, tensors dropped or replaced
// by another tensor's shape and bytes.
struct Edit {
  std::vector<std::pair<std::string, GgufValue>> set;
  std::set<std::string> drop_keys;
  std::string rename_arch;  // non-empty: general.architecture and every "deepseek32." key renamed
  std::set<std::string> drop_tensors;
  std::vector<std::pair<std::string, std::string>> replace;  // tensor name ← shape and bytes of another
};

std::string write_edit(const GgufFile& src, const std::string& tag, const Edit& e) {
  const std::string path = (fs::temp_directory_path() / ("qiusuo_dsa_" + tag + "_" + std::to_string(getpid()) + ".gguf")).string();
  GgufWriter w(path);
  for (const auto& [k, v] : src.metadata()) {
    if (k == "general.alignment" || e.drop_keys.count(k)) continue;
    if (!e.rename_arch.empty() && k == "general.architecture") w.set(k, GgufValue::make_str(e.rename_arch));
    else if (!e.rename_arch.empty() && k.rfind("deepseek32.", 0) == 0) w.set(e.rename_arch + k.substr(10), v);
    else w.set(k, v);
  }
  for (const auto& [k, v] : e.set) w.set(k, v);
  auto source_of = [&](const GgufTensorInfo& t) -> const GgufTensorInfo& {
    for (const auto& [name, other] : e.replace)
      if (name == t.name) return *src.find_tensor(other);
    return t;
  };
  for (const auto& t : src.tensors())
    if (!e.drop_tensors.count(t.name)) w.add_tensor(t.name, source_of(t).ne, source_of(t).type);
  w.write_header();
  for (const auto& t : src.tensors())
    if (!e.drop_tensors.count(t.name)) w.write_tensor_data(t.name, source_of(t).data, source_of(t).nbytes);
  w.finish();
  return path;
}

std::vector<float> prompt_logits(Model& m, const std::vector<int32_t>& prompt, MlaMode mode) {
  m.set_mla_mode(mode);
  auto seq = m.new_sequence(static_cast<int>(prompt.size()));
  std::vector<float> out(prompt.size() * static_cast<size_t>(m.n_vocab()));
  m.forward(*seq, prompt.data(), static_cast<int>(prompt.size()), out.data(), true);
  return out;
}

// With top_k at least the context every query keeps all of its keys: exactly dense MLA, which is the
// same file read as deepseek2 without its indexer. And the file's own top_k (12 of 48) must change
// the result: otherwise the golden checks would not show that the selection is applied.
TEST(Dsa, TopKCoveringTheContextEqualsDenseMla) {
  const auto src = GgufFile::open(test::model_path(kFile));
  Edit wide;
  wide.set = {{"deepseek32.attention.indexer.top_k", GgufValue::make_u32(4096)}};
  Edit dense;
  dense.rename_arch = "deepseek2";
  for (const char* k : {"attention.indexer.head_count", "attention.indexer.key_length", "attention.indexer.top_k",
                        "attention.layer_norm_epsilon"})
    dense.drop_keys.insert(std::string("deepseek32.") + k);
  for (const auto& t : src->tensors())
    if (t.name.find(".indexer.") != std::string::npos) dense.drop_tensors.insert(t.name);
  const std::string wide_path = write_edit(*src, "wide", wide), dense_path = write_edit(*src, "dense", dense);
  auto m_wide = Model::load(wide_path), m_dense = Model::load(dense_path), m_sparse = Model::load(test::model_path(kFile));
  fs::remove(wide_path);
  fs::remove(dense_path);
  ASSERT_EQ(m_dense->config().arch, Arch::DeepSeek2);
  const test::Golden g = test::load_golden(kFile);
  for (MlaMode mode : {MlaMode::Absorbed, MlaMode::Decompressed}) {
    const auto a = prompt_logits(*m_wide, g.prompt, mode), b = prompt_logits(*m_dense, g.prompt, mode);
    EXPECT_LT(test::max_abs_diff(a.data(), b.data(), a.size()), 1e-5) << "mode " << static_cast<int>(mode);
    const auto s = prompt_logits(*m_sparse, g.prompt, mode);
    EXPECT_GT(test::rms_diff(s.data(), b.data(), s.size()), 0.05) << "top_k 12 must differ from dense";
  }
}

// The prefix cache copies cached positions between sequences: the indexer keys must travel with the
// latent, or a sequence continuing from copied positions selects from zeros.
TEST(Dsa, CopiedPositionsCarryTheIndexerKeys) {
  const test::Golden g = test::load_golden(kFile);
  auto m = Model::load(test::model_path(kFile));
  const int V = m->n_vocab(), n = static_cast<int>(g.prompt.size()), split = 30;
  auto whole = m->new_sequence(n);
  std::vector<float> want(static_cast<size_t>(n) * V);
  m->forward(*whole, g.prompt.data(), n, want.data(), true);
  auto donor = m->new_sequence(n), taker = m->new_sequence(n);
  m->forward(*donor, g.prompt.data(), split, nullptr, false);
  taker->cache.copy_positions(donor->cache, 0, 0, split);
  taker->n_past = split;
  std::vector<float> got(static_cast<size_t>(n - split) * V);
  m->forward(*taker, &g.prompt[split], n - split, got.data(), true);
  EXPECT_LT(test::max_abs_diff(got.data(), &want[static_cast<size_t>(split) * V], got.size()), 1e-3);
}

TEST(Dsa, CacheCountsTheIndexerKeys) {
  auto m = Model::load(test::model_path(kFile));
  const ModelConfig& c = m->config();
  ASSERT_TRUE(c.has_indexer());
  EXPECT_EQ(c.idx_n_head, 8);
  EXPECT_EQ(c.idx_head_dim, 64);
  EXPECT_EQ(c.idx_top_k, 12);
  // F16: latent (64 + 32 values) and one indexer key (64 values) per token and layer.
  EXPECT_EQ(KvCache(c, 1, GgmlType::F16).bytes_per_token_layer(), size_t{2 * (64 + 32) + 2 * 64});
  EXPECT_EQ(m->kv_bytes_per_token(), uint64_t{3 * 320});
  // An 8-bit latent keeps 16-bit indexer keys: the selection must not flip on rounding.
  EXPECT_EQ(KvCache(c, 1, GgmlType::Q8_0).bytes_per_token_layer(), row_bytes(GgmlType::Q8_0, 96) + size_t{2 * 64});
  EXPECT_EQ(KvCache(c, 1, GgmlType::Q8_0).index_type(), GgmlType::F16);
}

TEST(Dsa, MalformedIndexerIsAClearError) {
  const auto src = GgufFile::open(test::model_path(kFile));
  struct Case {
    const char* tag;
    Edit edit;
    const char* must_name;
  };
  std::vector<Case> cases;
  cases.push_back({"noproj", Edit{{}, {}, "", {"blk.1.indexer.proj.weight"}, {}}, "blk.1.indexer.proj.weight"});
  cases.push_back({"shape", Edit{{}, {}, "", {}, {{"blk.2.indexer.attn_k.weight", "blk.2.attn_q_a.weight"}}},
                   "blk.2.indexer.attn_k.weight"});
  cases.push_back({"nonorm", Edit{{}, {}, "", {"blk.0.indexer.k_norm.bias"}, {}}, "blk.0.indexer.k_norm.bias"});
  cases.push_back({"topk0", Edit{{{"deepseek32.attention.indexer.top_k", GgufValue::make_u32(0)}}, {}, "", {}, {}},
                   "indexer.top_k"});
  cases.push_back({"noheads", Edit{{}, {"deepseek32.attention.indexer.head_count"}, "", {}, {}}, "indexer.head_count"});
  cases.push_back({"keylen", Edit{{{"deepseek32.attention.indexer.key_length", GgufValue::make_u32(16)}}, {}, "", {}, {}},
                   "indexer.key_length"});
  for (const Case& c : cases) {
    const std::string path = write_edit(*src, c.tag, c.edit);
    try {
      Model::load(path);
      ADD_FAILURE() << c.tag << ": loaded";
    } catch (const GgufError& e) {
      EXPECT_NE(std::string(e.what()).find(c.must_name), std::string::npos) << c.tag << ": " << e.what();
    }
    fs::remove(path);
  }
}

}  // namespace
}  // namespace qs
