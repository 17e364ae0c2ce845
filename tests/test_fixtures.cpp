// The engine against the golden float64 reference in ../shared/fixtures/models (tolerances from
// the fixtures README): RMS of the logits, argmax where the golden's margin exceeds 0.25 (0.5 for the
// i-quant files, as the README demands), and
// for float weights the identical 16-token greedy continuation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <unistd.h>

#include "engine/sampler.h"
#include "model/model.h"
#include "test_util.h"

namespace qs {
namespace {

struct FixtureCase {
  const char* file;
  bool float_weights;
  float argmax_margin = 0.25f;  // argmax must agree where the golden's top-1 leads by more (README)
  // Rows an expert flip may spoil: a near-tie in routing that 8-bit activation rounding resolves the
  // other way (the README allows flips). Which rows flip depends on the build's and CPU's float
  // details; the reference-mode test below holds these files to the tolerance on every row.
  int flip_rows = 0;
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

void check_logits(const test::Golden& g, const std::vector<float>& got, const std::string& label, float argmax_margin,
                  int flip_rows = 0) {
  const int V = g.n_vocab;
  // Rows far off (an expert flip gives ~1.2-1.9 RMS in this row) are set aside, at most flip_rows of them.
  std::vector<bool> flipped(g.prompt.size(), false);
  int n_flipped = 0;
  for (size_t t = 0; t < g.prompt.size() && flip_rows > 0; ++t)
    if (test::rms_diff(&got[t * V], &g.logits[t * V], static_cast<size_t>(V)) > 1.0) flipped[t] = true, ++n_flipped;
  EXPECT_LE(n_flipped, flip_rows) << label << ": rows with an expert flip";
  double sum = 0;
  size_t n = 0;
  for (size_t t = 0; t < g.prompt.size(); ++t) {
    if (flipped[t]) continue;
    const double r = test::rms_diff(&got[t * V], &g.logits[t * V], static_cast<size_t>(V));
    sum += r * r * V;
    n += static_cast<size_t>(V);
  }
  const double rms = std::sqrt(sum / static_cast<double>(n));
  EXPECT_LE(rms, g.rms_tol) << label << ": RMS over all logits" << (n_flipped ? " but the flipped rows" : "");
  for (size_t t = 0; t < g.prompt.size(); ++t) {
    const float* want = &g.logits[t * V];
    if (flipped[t] || margin(want, V) <= argmax_margin) continue;
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
    check_logits(g, logits, mode == MlaMode::Absorbed ? "absorbed" : "decompressed", fc.argmax_margin, fc.flip_rows);
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
  check_logits(g, logits, "one-token-at-a-time", fc.argmax_margin, fc.flip_rows);
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

// Reference mode (QIUSUO_ACTIVATIONS=f32: float activations, no repacking) computes what the golden's
// float64 reference computes from the same decoded weights, so it holds every row of the quantized files
// to the tolerance, expert choices included: the check that the i-quant decoding itself is exact.
TEST_P(FixtureTest, ReferenceModeLogitsMatchGoldenOnEveryRow) {
  const FixtureCase fc = GetParam();
  if (fc.float_weights) GTEST_SKIP() << "float files are checked on every row by the tests above";
  const test::Golden g = test::load_golden(fc.file);
  std::string ids;
  for (int32_t t : g.prompt) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(t);
  }
  std::filesystem::path out_path = std::filesystem::temp_directory_path();
  out_path /= "qiusuo_ref_" + std::to_string(getpid());
  const std::string out = out_path.string();
  const test::ShellResult r = test::run_shell("QIUSUO_ACTIVATIONS=f32 " + std::string(QIUSUO_CLI_PATH) + " logits -m " +
                                              test::model_path(fc.file) + " --tokens " + ids + " -o " + out + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  const std::vector<float> got = test::read_f32_file(out);
  std::filesystem::remove(out);
  ASSERT_EQ(got.size(), g.logits.size());
  check_logits(g, got, "reference mode", 0.25f);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, FixtureTest,
    ::testing::Values(FixtureCase{"ds3-small.f16.gguf", true}, FixtureCase{"ds3-small-nogroups.f16.gguf", true},
                      FixtureCase{"ds3-small-mla.f16.gguf", true}, FixtureCase{"ds2-small.f16.gguf", true},
                      FixtureCase{"ds32-small.f16.gguf", true},
                      FixtureCase{"ds3-small.q8_0.gguf", false}, FixtureCase{"ds3-small.q4_k.gguf", false},
                      FixtureCase{"ds3-iq.ud-iq1_s.gguf", false, 0.5f, 2},
                      FixtureCase{"ds3-iq.iq-mix.gguf", false, 0.5f, 2},
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
