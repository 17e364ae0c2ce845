// A vocabulary that contradicts itself is refused at load with a message naming what is wrong (it used
// to load silently: an all-empty vocabulary then made run/generate print nothing with exit 0).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "chat/chat_template.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace qs {
namespace {

using KV = std::vector<std::pair<std::string, GgufValue>>;

KV good_vocab() {
  return {{"general.architecture", GgufValue::make_str("deepseek2")},
          {"tokenizer.ggml.model", GgufValue::make_str("gpt2")},
          {"tokenizer.ggml.pre", GgufValue::make_str("deepseek-v3")},
          {"tokenizer.ggml.tokens", GgufValue::make_str_array({"a", "b", "ab", "<s>"})},
          {"tokenizer.ggml.token_type", GgufValue::make_i32_array({1, 1, 1, 3})},
          {"tokenizer.ggml.merges", GgufValue::make_str_array({"a b"})},
          {"tokenizer.ggml.bos_token_id", GgufValue::make_u32(3)}};
}

void set(KV& kv, const std::string& key, GgufValue v) {
  for (auto& [k, x] : kv)
    if (k == key) return void(x = std::move(v));
  kv.emplace_back(key, std::move(v));
}

// The load error's text ("" when it loaded).
std::string load_error(const KV& kv) {
  const std::vector<uint8_t> bytes = gguf_build_in_memory(kv, {});
  try {
    const auto f = GgufFile::from_memory(bytes.data(), bytes.size(), "vocab.gguf");
    Tokenizer::from_gguf(*f);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(VocabConsistency, AConsistentVocabularyLoads) {
  EXPECT_EQ(load_error(good_vocab()), "");
  KV kv = good_vocab();
  set(kv, "deepseek2.vocab_size", GgufValue::make_u32(4));
  EXPECT_EQ(load_error(kv), "");
}

TEST(VocabConsistency, EachInconsistencyIsAnErrorNamingIt) {
  struct Case {
    const char* what;
    std::string key;
    GgufValue value;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"vocab_size disagreeing", "deepseek2.vocab_size", GgufValue::make_u32(5), "vocab_size is 5"},
      {"token_type too short", "tokenizer.ggml.token_type", GgufValue::make_i32_array({1, 1, 1}), "3 entries for 4 tokens"},
      {"token_type too long", "tokenizer.ggml.token_type", GgufValue::make_i32_array({1, 1, 1, 3, 1}), "5 entries for 4 tokens"},
      {"unknown token type", "tokenizer.ggml.token_type", GgufValue::make_i32_array({1, 9, 1, 3}), "token_type[1] is 9"},
      {"all tokens empty", "tokenizer.ggml.tokens", GgufValue::make_str_array({"", "", "", ""}), "every token"},
      {"BOS beyond the vocabulary", "tokenizer.ggml.bos_token_id", GgufValue::make_u32(4), "beyond the vocabulary"},
  };
  for (const Case& c : cases) {
    KV kv = good_vocab();
    set(kv, c.key, c.value);
    const std::string err = load_error(kv);
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.what << ": " << err;
    EXPECT_NE(err.find("vocab.gguf"), std::string::npos) << c.what << ": the error names the file: " << err;
  }
}

// What llama.cpp accepts is accepted, as documented: a repeated token text maps to its last id, and a
// merge naming a token that is not in the vocabulary never applies.
TEST(VocabConsistency, DuplicatesAndDanglingMergesLoadAsLlamaCppReadsThem) {
  KV kv = good_vocab();
  set(kv, "tokenizer.ggml.tokens", GgufValue::make_str_array({"a", "b", "a", "<s>"}));
  set(kv, "tokenizer.ggml.merges", GgufValue::make_str_array({"a b", "x y"}));
  const std::vector<uint8_t> bytes = gguf_build_in_memory(kv, {});
  const auto f = GgufFile::from_memory(bytes.data(), bytes.size(), "vocab.gguf");
  const Tokenizer t = Tokenizer::from_gguf(*f);
  EXPECT_EQ(t.encode("a", false, false), std::vector<int32_t>{2});
}

TEST(VocabConsistency, HfTokenizerIdsOutsideInt32AreNamedAsTheyAre) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / ("qiusuo_big_id_" + std::to_string(getpid()) + ".json")).string();
  std::ofstream(path) << R"({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},)"
                          R"( "model": {"type": "BPE", "vocab": {"a": 0, "b": 2147483648}, "merges": []}, "added_tokens": []})";
  try {
    Tokenizer::load(path);
    ADD_FAILURE() << "loaded a token id of 2^31";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("2147483648"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("negative"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(VocabConsistency, ChatTemplateThatIsNotUtf8IsRefused) {
  try {
    ChatTemplate t(std::string("{{ 'a' }}\xff\xfe"));
    ADD_FAILURE() << "parsed a template with invalid UTF-8";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qs
