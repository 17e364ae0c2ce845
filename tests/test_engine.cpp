// Engine invariants on the fixture models: chunked prefill == one batch, independent sequences do
// not interfere, absorbed == decompressed MLA after a cached prefix, and the sampler's contracts.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "engine/sampler.h"
#include "kernels/thread_pool.h"
#include "model/model.h"
#include "model/moe.h"
#include "model/rope.h"
#include "test_util.h"

// Batch shapes change only the order of float additions (and which kernel path runs); through a
// few layers that moves logits of magnitude ~3 by up to ~3e-4. A real mistake moves them by >0.1.
constexpr double kOrderTol = 1e-3;

namespace qs {
namespace {

std::vector<float> prefill_chunks(Model& m, const std::vector<int32_t>& toks, const std::vector<int>& chunks) {
  auto seq = m.new_sequence(static_cast<int>(toks.size()));
  const int V = m.n_vocab();
  std::vector<float> out(toks.size() * V);
  int pos = 0;
  for (int c : chunks) {
    m.forward(*seq, &toks[pos], c, &out[static_cast<size_t>(pos) * V], true);
    pos += c;
  }
  EXPECT_EQ(pos, static_cast<int>(toks.size()));
  return out;
}

TEST(Engine, ChunkedPrefillEqualsOneBatch) {
  for (const char* file : {"ds3-small.f16.gguf", "ds2-small.f16.gguf", "ds32-small.f16.gguf", "tiny-qwen2.f32.gguf"}) {
    const test::Golden g = test::load_golden(file);
    auto m = Model::load(test::model_path(file));
    const auto whole = prefill_chunks(*m, g.prompt, {48});
    for (MlaMode mode : {MlaMode::Absorbed, MlaMode::Decompressed}) {
      m->set_mla_mode(mode);
      const auto chunked = prefill_chunks(*m, g.prompt, {5, 1, 17, 25});
      EXPECT_LT(test::max_abs_diff(whole.data(), chunked.data(), whole.size()), kOrderTol) << file;
    }
  }
}

TEST(Engine, AbsorbedEqualsDecompressedAfterCachedPrefix) {
  const test::Golden g = test::load_golden("ds3-small-mla.f16.gguf");
  for (const char* file : {"ds3-small.f16.gguf", "ds3-small-mla.f16.gguf", "ds32-small.f16.gguf"}) {
    auto m = Model::load(test::model_path(file));
    m->set_mla_mode(MlaMode::Absorbed);
    const auto a = prefill_chunks(*m, g.prompt, {30, 18});
    m->set_mla_mode(MlaMode::Decompressed);
    const auto d = prefill_chunks(*m, g.prompt, {30, 18});
    EXPECT_LT(test::max_abs_diff(a.data(), d.data(), a.size()), kOrderTol) << file;
  }
}

// A prompt longer than the blocked attention's key chunk (256) and the absorbed one's (128): both
// fold several chunks through their online softmax and must still agree, on both on-disk MLA
// layouts (attn_kv_b, and attn_k_b/attn_v_b). With the 8-bit cache, absorbed attention below AVX-512
// also rounds each query to 8 bits (once per query, whatever the number of chunks): measured 0.05 RMS apart
// over the 600 positions, with a few positions much further (the random fixture's routing flips
// on small differences: decompressed F16 vs Q8_0 cache shows the same), so that case is bound by RMS.
TEST(Engine, AbsorbedEqualsDecompressedOverSeveralKeyChunks) {
  for (const char* file : {"ds3-small.f16.gguf", "ds3-small-mla.f16.gguf"}) {
    auto m = Model::load(test::model_path(file));
    std::vector<int32_t> toks(600);
    for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 7919 + 13) % m->n_vocab());
    for (GgmlType cache : {GgmlType::F16, GgmlType::Q8_0}) {
      m->set_cache_type(cache);
      m->set_mla_mode(MlaMode::Absorbed);
      const auto a = prefill_chunks(*m, toks, {40, 560});
      m->set_mla_mode(MlaMode::Decompressed);
      const auto d = prefill_chunks(*m, toks, {40, 560});
      if (cache == GgmlType::F16) {
        EXPECT_LT(test::max_abs_diff(a.data(), d.data(), a.size()), kOrderTol) << file;
      } else {
        EXPECT_LT(test::rms_diff(a.data(), d.data(), a.size()), 0.1) << file << " cache " << traits(cache).name;
      }
    }
  }
}

// Absorbed decode splits a long cache into spans of rows that the threads share; the spans are fixed
// by the context, not by the thread count, so the logits must be bit-identical with 1, 2 or 3
// threads (here 1,300 cached rows: three spans, and with 3 threads spans and heads both split).
TEST(Engine, AbsorbedDecodeIsTheSameOnAnyThreadCount) {
  auto m = Model::load(test::model_path("ds3-small-mla.f16.gguf"));
  m->set_mla_mode(MlaMode::Absorbed);
  const int V = m->n_vocab();
  std::vector<int32_t> toks(1300);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 104729 + 7) % V);
  std::vector<std::vector<float>> got;
  for (int threads : {1, 2, 3}) {
    set_global_threads(threads);
    auto seq = m->new_sequence(static_cast<int>(toks.size()));
    std::vector<float> prompt_logits(static_cast<size_t>(V) * (toks.size() - 2)), last(static_cast<size_t>(V) * 2);
    m->forward(*seq, toks.data(), static_cast<int>(toks.size()) - 2, prompt_logits.data(), false);
    for (int i = 0; i < 2; ++i)  // two decode steps over the cached prefix
      m->forward(*seq, &toks[toks.size() - 2 + i], 1, &last[static_cast<size_t>(V) * i], false);
    got.push_back(last);
  }
  set_global_threads(ThreadPool::default_threads());
  for (size_t k = 1; k < got.size(); ++k)
    for (size_t i = 0; i < got[0].size(); ++i) ASSERT_EQ(got[k][i], got[0][i]) << "threads run " << k << " at " << i;
}

TEST(Engine, SequencesAreIndependent) {
  const test::Golden g = test::load_golden("ds3-small.f16.gguf");
  auto m = Model::load(test::model_path("ds3-small.f16.gguf"));
  const int V = m->n_vocab();
  auto a = m->new_sequence(64), b = m->new_sequence(64);
  std::vector<float> la(V), lb(V), ref(V);
  // Interleave two different prompts token by token; each must see only its own history.
  std::vector<int32_t> pb(g.prompt.rbegin(), g.prompt.rend());
  for (size_t t = 0; t < g.prompt.size(); ++t) {
    m->forward(*a, &g.prompt[t], 1, la.data(), false);
    m->forward(*b, &pb[t], 1, lb.data(), false);
  }
  const float* want = &g.logits[(g.prompt.size() - 1) * V];
  EXPECT_LT(test::rms_diff(la.data(), want, V), g.rms_tol);
  auto c = m->new_sequence(64);
  m->forward(*c, pb.data(), static_cast<int>(pb.size()), ref.data(), false);
  EXPECT_LT(test::max_abs_diff(lb.data(), ref.data(), V), kOrderTol);
}

TEST(Engine, RejectsBadTokensAndContextOverflow) {
  auto m = Model::load(test::model_path("tiny-llama.f32.gguf"));
  auto seq = m->new_sequence(4);
  std::vector<float> logits(m->n_vocab());
  const int32_t bad[] = {-1};
  EXPECT_THROW(m->forward(*seq, bad, 1, logits.data(), false), std::out_of_range);
  const int32_t big[] = {m->n_vocab()};
  EXPECT_THROW(m->forward(*seq, big, 1, logits.data(), false), std::out_of_range);
  const int32_t five[] = {1, 2, 3, 4, 5};
  EXPECT_THROW(m->forward(*seq, five, 5, nullptr, false), std::out_of_range);
  EXPECT_EQ(seq->n_past, 0);  // nothing was consumed by the failed calls
  m->forward(*seq, five, 4, logits.data(), false);
  EXPECT_EQ(seq->n_past, 4);
}

TEST(Rope, YarnThetaMatchesDeepSeekConstants) {
  // §8.4 of the architecture notes: V3 parameters (dim 64, base 1e4, factor 40, original 4096).
  const auto th = yarn_theta(64, 10000.0, 40.0, 4096, 32.0, 1.0);
  EXPECT_NEAR(th[0], 1.0, 1e-9);
  EXPECT_NEAR(th[10], 0.0562341, 1e-7);
  EXPECT_NEAR(th[11], 0.0390069, 1e-7);
  EXPECT_NEAR(th[16], 0.0055, 1e-6);
  EXPECT_NEAR(th[22], 1.77828e-4, 1e-9);
  EXPECT_NEAR(th[23], 3.33380e-5, 1e-10);
  EXPECT_NEAR(th[31], 3.33380e-6, 1e-11);
}

// Rotating several heads at once (cos/sin evaluated once) gives each head exactly what rotating it
// alone gives, in both pairings, and leaves the values past n_rot and between heads alone.
TEST(Rope, ManyHeadsEqualOneByOne) {
  for (RopeStyle style : {RopeStyle::Adjacent, RopeStyle::NeoX}) {
    ModelConfig c;
    c.n_rot = 64;
    c.rope_style = style;
    c.rope_base = 10000.f;
    const Rope rope(c);
    const int heads = 5;
    const size_t stride = 80;  // 64 rotated values, then 16 that are not
    std::vector<float> many(heads * stride), one(many.size());
    for (size_t i = 0; i < many.size(); ++i) many[i] = one[i] = std::sin(0.37f * static_cast<float>(i)) + 0.1f;
    rope.apply(many.data(), 1234, heads, stride);
    for (int h = 0; h < heads; ++h) rope.apply(&one[h * stride], 1234);
    EXPECT_EQ(many, one);
    for (int h = 0; h < heads; ++h)
      for (size_t i = 64; i < stride; ++i) EXPECT_EQ(many[h * stride + i], std::sin(0.37f * static_cast<float>(h * stride + i)) + 0.1f);
    EXPECT_NE(many[1], std::sin(0.37f) + 0.1f);  // it did rotate
  }
}

TEST(Config, SoftmaxScaleIncludesMscaleSquared) {
  ModelConfig c;
  c.arch = Arch::DeepSeek2;
  c.head_dim_k = 192;
  c.rope_scaling = RopeScaling::Yarn;
  c.rope_factor = 40;
  c.yarn_log_mul = 0.1f;
  EXPECT_NEAR(c.attn_scale(), 0.1352337789, 1e-6);  // V3
  c.yarn_log_mul = 0.0707f;
  EXPECT_NEAR(c.attn_scale(), 0.1147213868, 1e-6);  // V2-Lite
}

TEST(Router, GroupLimitedTopKAndBiasOnlySelects) {
  ModelConfig c;
  c.n_expert = 8;
  c.n_expert_used = 2;
  c.n_expert_groups = 4;
  c.n_expert_groups_used = 1;
  c.gating = Gating::Sigmoid;
  c.expert_weights_norm = true;
  c.expert_weights_scale = 2.5f;
  // Group 0 = {0,1}: top-2 sum with bias decides. Expert 6 has the single best score but its group
  // {6,7} sums lower than group {2,3}.
  const float logits[8] = {-3, -3, 1.0f, 1.0f, -3, -3, 2.0f, -4};
  const std::vector<float> bias(8, 0.f);
  ExpertChoice ch = route_token(c, logits, bias);
  EXPECT_EQ(std::set<int>(ch.experts.begin(), ch.experts.end()), (std::set<int>{2, 3}));
  EXPECT_NEAR(ch.weights[0] + ch.weights[1], 2.5f, 1e-5);  // normalised, then scaled
  // Without groups the single best expert wins.
  c.n_expert_groups = 1;
  c.n_expert_groups_used = 1;
  ch = route_token(c, logits, bias);
  EXPECT_EQ(ch.experts[0], 6);
  // The bias changes the choice but not the weights, which use the unbiased scores.
  std::vector<float> b2(8, 0.f);
  b2[0] = 10.f;
  ch = route_token(c, logits, b2);
  EXPECT_EQ(ch.experts[0], 0);
  const float s0 = 1.f / (1.f + std::exp(3.f)), s6 = 1.f / (1.f + std::exp(-2.f));
  EXPECT_NEAR(ch.weights[0], 2.5f * s0 / (s0 + s6), 1e-5);
}

TEST(Router, SoftmaxWithoutNormalisation) {
  ModelConfig c;
  c.n_expert = 4;
  c.n_expert_used = 2;
  c.gating = Gating::Softmax;
  c.expert_weights_scale = 16.f;
  const float logits[4] = {0.f, 1.f, 2.f, 3.f};
  const ExpertChoice ch = route_token(c, logits, {});
  ASSERT_EQ(ch.experts, (std::vector<int>{3, 2}));
  const double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(ch.weights[0], 16 * std::exp(3.0) / z, 1e-4);
  EXPECT_NEAR(ch.weights[1], 16 * std::exp(2.0) / z, 1e-4);
}

TEST(Sampler, GreedyAndTopKOne) {
  std::vector<float> l = {0.1f, 3.f, 2.9f, -1.f};
  SamplingParams p;
  p.temperature = 0.f;
  EXPECT_EQ(Sampler(p).sample(l.data(), 4, {}), 1);
  p.temperature = 5.f;
  p.top_k = 1;
  EXPECT_EQ(Sampler(p).sample(l.data(), 4, {}), 1);
}

TEST(Sampler, SeedIsReproducibleAndDistributionFollowsTemperature) {
  std::vector<float> base = {0.f, std::log(2.f), std::log(3.f), std::log(4.f)};  // p = 0.1 0.2 0.3 0.4
  SamplingParams p;
  p.temperature = 1.f;
  p.seed = 42;
  Sampler s1(p), s2(p);
  std::map<int, int> counts;
  const int N = 20000;
  for (int i = 0; i < N; ++i) {
    auto a = base, b = base;
    const int x = s1.sample(a.data(), 4, {});
    EXPECT_EQ(x, s2.sample(b.data(), 4, {}));
    counts[x]++;
  }
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(counts[k] / double(N), 0.1 * (k + 1), 0.02) << k;
}

TEST(Sampler, TopPAndMinPCut) {
  std::vector<float> base = {0.f, std::log(2.f), std::log(3.f), std::log(4.f)};
  SamplingParams p;
  p.temperature = 1.f;
  p.top_p = 0.65f;  // 0.4 + 0.3 reaches it: only ids 3 and 2 remain
  Sampler s(p);
  for (int i = 0; i < 2000; ++i) {
    auto a = base;
    const int x = s.sample(a.data(), 4, {});
    EXPECT_TRUE(x == 3 || x == 2) << x;
  }
  SamplingParams q;
  q.temperature = 1.f;
  q.min_p = 0.6f;  // keeps p >= 0.24: ids 3 and 2
  Sampler s2(q);
  for (int i = 0; i < 2000; ++i) {
    auto a = base;
    const int x = s2.sample(a.data(), 4, {});
    EXPECT_TRUE(x == 3 || x == 2) << x;
  }
}

TEST(Sampler, PenaltiesDemoteSeenTokens) {
  SamplingParams p;
  p.temperature = 0.f;
  p.repeat_penalty = 2.f;
  std::vector<float> l = {1.f, 1.5f, 0.f};
  EXPECT_EQ(Sampler(p).sample(l.data(), 3, {1}), 0);  // 1.5 / 2 < 1
  SamplingParams q;
  q.temperature = 0.f;
  q.frequency_penalty = 0.4f;
  std::vector<float> m = {1.f, 1.5f, 0.f};
  EXPECT_EQ(Sampler(q).sample(m.data(), 3, {1}), 1);  // 1.5 - 0.4 > 1
  std::vector<float> m2 = {1.f, 1.5f, 0.f};
  EXPECT_EQ(Sampler(q).sample(m2.data(), 3, {1, 1}), 0);  // 1.5 - 0.8 < 1
}

TEST(Sampler, RejectsBadParameters) {
  SamplingParams p;
  p.temperature = -1.f;
  EXPECT_THROW(Sampler{p}, std::invalid_argument);
  p = {};
  p.top_p = 0.f;
  EXPECT_THROW(Sampler{p}, std::invalid_argument);
  p = {};
  p.min_p = 2.f;
  EXPECT_THROW(Sampler{p}, std::invalid_argument);
}

}  // namespace
}  // namespace qs

namespace qs {
namespace {

// Each KV cache type against the golden: F32 is exact, the 16-bit types stay inside the fixture
// tolerance, Q8_0 (which also rounds the query to 8 bits) inside a looser stated bound.
TEST(Engine, CacheTypesAgainstGolden) {
  struct Case {
    GgmlType type;
    double tol;
  };
  for (const char* file : {"ds3-small.f16.gguf", "ds32-small.f16.gguf", "tiny-qwen2.f32.gguf"}) {
    const test::Golden g = test::load_golden(file);
    auto m = Model::load(test::model_path(file));
    for (const Case& c : {Case{GgmlType::F32, 1e-5}, Case{GgmlType::F16, 2e-3}, Case{GgmlType::BF16, 1e-2},
                          Case{GgmlType::Q8_0, 2e-2}}) {
      if (!KvCache::supported(c.type, m->config())) continue;
      m->set_cache_type(c.type);
      const int n = static_cast<int>(g.prompt.size());
      auto seq = m->new_sequence(n);
      std::vector<float> logits(static_cast<size_t>(n) * g.n_vocab);
      m->forward(*seq, g.prompt.data(), n, logits.data(), true);
      const double rms = test::rms_diff(logits.data(), g.logits.data(), logits.size());
      EXPECT_LE(rms, c.tol) << file << " cache " << traits(c.type).name;
      std::printf("    %s cache %s: rms %.3g\n", file, std::string(traits(c.type).name).c_str(), rms);
    }
  }
}

TEST(Engine, CacheBytesPerTokenPerLayer) {
  auto m = Model::load(test::model_path("ds3-small.f16.gguf"));
  const ModelConfig& c = m->config();
  EXPECT_EQ(KvCache(c, 1, GgmlType::F16).bytes_per_token_layer(), size_t(2 * (c.kv_lora_rank + c.qk_rope)));
  ModelConfig v3 = c;  // V3's latent: 512 + 64
  v3.kv_lora_rank = 512;
  v3.qk_rope = 64;
  EXPECT_EQ(KvCache(v3, 1, GgmlType::F16).bytes_per_token_layer(), 1152u);
  EXPECT_EQ(KvCache(v3, 1, GgmlType::Q8_0).bytes_per_token_layer(), 612u);
  EXPECT_THROW(m->set_cache_type(GgmlType::Q4_K), std::invalid_argument);
}

}  // namespace
}  // namespace qs

namespace qs {
namespace {

// Continuous batching: several sequences in one forward_batch (mixed prefill and decode) give the
// logits each sequence gets alone.
TEST(Engine, BatchedSequencesEqualSeparateRuns) {
  for (const char* file : {"ds3-small.f16.gguf", "ds32-small.f16.gguf", "tiny-llama.f32.gguf"}) {
    const test::Golden g = test::load_golden(file);
    auto m = Model::load(test::model_path(file));
    const int V = m->n_vocab();
    const std::vector<std::vector<int32_t>> prompts = {
        std::vector<int32_t>(g.prompt.begin(), g.prompt.begin() + 20),
        std::vector<int32_t>(g.prompt.begin() + 5, g.prompt.begin() + 12),
        std::vector<int32_t>(g.prompt.rbegin(), g.prompt.rbegin() + 33)};
    const int steps = 6;
    // Alone: prefill, then greedy decode; remember every logits row.
    std::vector<std::vector<float>> alone(prompts.size());
    std::vector<std::vector<int32_t>> picks(prompts.size());
    for (size_t k = 0; k < prompts.size(); ++k) {
      auto seq = m->new_sequence(64);
      std::vector<float> l(V);
      m->forward(*seq, prompts[k].data(), static_cast<int>(prompts[k].size()), l.data(), false);
      for (int s = 0; s < steps; ++s) {
        alone[k].insert(alone[k].end(), l.begin(), l.end());
        int32_t t = argmax(l.data(), V);
        picks[k].push_back(t);
        m->forward(*seq, &t, 1, l.data(), false);
      }
    }
    // Together: sequence 0 and 2 prefill in one batch; sequence 1 joins a step later (its prefill
    // batched with the others' decode), as a continuous-batching scheduler would do.
    std::vector<std::unique_ptr<Sequence>> seqs;
    for (size_t k = 0; k < prompts.size(); ++k) seqs.push_back(m->new_sequence(64));
    std::vector<std::vector<float>> together(prompts.size());
    std::vector<size_t> done(prompts.size(), 0);
    std::vector<bool> started(prompts.size(), false);
    std::vector<int32_t> next(prompts.size(), -1);
    for (int step = 0; step <= steps + 1; ++step) {
      std::vector<Model::BatchToken> batch;
      std::vector<size_t> owner;
      for (size_t k = 0; k < prompts.size(); ++k) {
        if (done[k] >= static_cast<size_t>(steps)) continue;
        if (!started[k]) {
          if (k == 1 && step == 0) continue;
          for (size_t i = 0; i < prompts[k].size(); ++i)
            batch.push_back({seqs[k].get(), prompts[k][i], i + 1 == prompts[k].size()});
          started[k] = true;
        } else {
          batch.push_back({seqs[k].get(), next[k], true});
        }
        owner.push_back(k);
      }
      if (batch.empty()) break;
      std::vector<float> l(owner.size() * V);
      m->forward_batch(batch, l.data());
      for (size_t r = 0; r < owner.size(); ++r) {
        const size_t k = owner[r];
        together[k].insert(together[k].end(), l.begin() + r * V, l.begin() + (r + 1) * V);
        next[k] = picks[k][done[k]];  // feed the same tokens as the solo run
        ++done[k];
      }
    }
    for (size_t k = 0; k < prompts.size(); ++k) {
      ASSERT_EQ(together[k].size(), alone[k].size()) << file << " seq " << k;
      EXPECT_LT(test::max_abs_diff(together[k].data(), alone[k].data(), alone[k].size()), kOrderTol) << file << " seq " << k;
    }
  }
}

TEST(Engine, BatchRejectsInterleavedSequences) {
  auto m = Model::load(test::model_path("tiny-llama.f32.gguf"));
  auto a = m->new_sequence(8), b = m->new_sequence(8);
  const std::vector<Model::BatchToken> bad = {{a.get(), 1, false}, {b.get(), 2, false}, {a.get(), 3, true}};
  std::vector<float> l(m->n_vocab());
  EXPECT_THROW(m->forward_batch(bad, l.data()), std::invalid_argument);
  EXPECT_EQ(a->n_past, 0);
  EXPECT_EQ(b->n_past, 0);
}

}  // namespace
}  // namespace qs
