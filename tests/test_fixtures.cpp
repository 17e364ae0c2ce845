// The engine against the golden float64 reference in ../shared/fixtures/models (tolerances from
// the fixtures README): RMS of the logits, argmax where the golden's margin exceeds 0.25 (0.5 for the
// i-quant files, as the README demands), and
// for float weights the identical 16-token greedy continuation.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/sampler.h"
#include "model/model.h"
#include "test_util.h"

namespace qs {
namespace {

struct FixtureCase {
  const char* file;
  bool float_weights;
  float argmax_margin = 0.25f;  // argmax must agree where the golden's top-1 leads by more (README)
};

class FixtureTest : public ::testing::TestWithParam<FixtureCase> {};

// Top-1 minus top-2 of a row.
float margin(const float* row, int n) {
  float a = -INFINITY, b = -INFINITY;
  for (int i = 0; i < n; ++i) {
    if (row[i] > a) { b = a; a = row[i]; }
    else if (row[i] > b) b = row[i];
  }
  return a - b;
}

void check_logits(const test::Golden& g, const std::vector<float>& got, const std::string& label, float argmax_margin) {
  const int V = g.n_vocab;
  const double rms = test::rms_diff(got.data(), g.logits.data(), got.size());
  EXPECT_LE(rms, g.rms_tol) << label << ": RMS over all logits";
  for (size_t t = 0; t < g.prompt.size(); ++t) {
    const float* want = &g.logits[t * V];
    if (margin(want, V) <= argmax_margin) continue;
    EXPECT_EQ(argmax(&got[t * V], V), argmax(want, V)) << label << ": argmax at row " << t;
  }
  std::printf("    %s: rms %.3g (tol %.3g), max |diff| %.3g\n", label.c_str(), rms, g.rms_tol,
              test::max_abs_diff(got.data(), g.logits.data(), got.size()));
}



TEST_P(FixtureTest, PrefillLogitsMatchGolden) {
  const FixtureCase fc = GetParam();
  const test::Golden g = test::load_golden(fc.file);
  auto m = Model::load(test::model_path(fc.file));
  ASSERT_EQ(m->n_vocab(), g.n_vocab);
  const int n = static_cast<int>(g.prompt.size());
  for (MlaMode mode : {MlaMode::Absorbed, MlaMode::Decompressed}) {
    if (!m->config().is_mla() && mode == MlaMode::Decompressed) continue;
    m->set_mla_mode(mode);
    auto seq = m->new_sequence(n);
    std::vector<float> logits(static_cast<size_t>(n) * g.n_vocab);
    m->forward(*seq, g.prompt.data(), n, logits.data(), true);
    check_logits(g, logits, mode == MlaMode::Absorbed ? "absorbed" : "decompressed", fc.argmax_margin);
  }
}

TEST_P(FixtureTest, SequentialDecodeMatchesGolden) {
  const FixtureCase fc = GetParam();
  const test::Golden g = test::load_golden(fc.file);
  auto m = Model::load(test::model_path(fc.file));
  const int n = static_cast<int>(g.prompt.size());
  auto seq = m->new_sequence(n);
  std::vector<float> logits(static_cast<size_t>(n) * g.n_vocab);
  for (int t = 0; t < n; ++t) m->forward(*seq, &g.prompt[t], 1, &logits[static_cast<size_t>(t) * g.n_vocab], false);
  check_logits(g, logits, "one-token-at-a-time", fc.argmax_margin);
}

TEST_P(FixtureTest, GreedyContinuationMatchesGolden) {
  const FixtureCase fc = GetParam();
  if (!fc.float_weights) GTEST_SKIP() << "greedy identity is not demanded for quantized weights";
  const test::Golden g = test::load_golden(fc.file);
  auto m = Model::load(test::model_path(fc.file));
  const int n = static_cast<int>(g.prompt.size());
  auto seq = m->new_sequence(n + static_cast<int>(g.greedy.size()));
  std::vector<float> logits(static_cast<size_t>(g.n_vocab));
  m->forward(*seq, g.prompt.data(), n, logits.data(), false);
  std::vector<int32_t> got;
  for (size_t i = 0; i < g.greedy.size(); ++i) {
    int32_t tok = argmax(logits.data(), g.n_vocab);
    got.push_back(tok);
    m->forward(*seq, &tok, 1, logits.data(), false);
  }
  EXPECT_EQ(got, g.greedy);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, FixtureTest,
    ::testing::Values(FixtureCase{"ds3-small.f16.gguf", true}, FixtureCase{"ds3-small-nogroups.f16.gguf", true},
                      FixtureCase{"ds3-small-mla.f16.gguf", true}, FixtureCase{"ds2-small.f16.gguf", true},
                      FixtureCase{"ds3-small.q8_0.gguf", false}, FixtureCase{"ds3-small.q4_k.gguf", false},
                      FixtureCase{"ds3-iq.ud-iq1_s.gguf", false, 0.5f},
                      FixtureCase{"ds3-iq.iq-mix.gguf", false, 0.5f},
                      FixtureCase{"tiny-qwen2.f32.gguf", true}, FixtureCase{"tiny-llama.f32.gguf", true}),
    [](const ::testing::TestParamInfo<FixtureCase>& info) {
      std::string s = info.param.file;
      s = s.substr(0, s.size() - 5);
      std::replace(s.begin(), s.end(), '-', '_');
      std::replace(s.begin(), s.end(), '.', '_');
      return s;
    });

}  // namespace
}  // namespace qs
