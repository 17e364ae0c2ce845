// The GGUF reader on hand-built files: every value type, alignment, and a catalogue of malformed
// inputs that must each produce a GgufError (never a crash; the suite also runs under ASan).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "test_util.h"

namespace qs {
namespace {

// Writes raw GGUF bytes field by field, so tests can also write wrong ones.
struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& pad_to(size_t align) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
};

Bytes header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  Bytes x;
  x.b = {'G', 'G', 'U', 'F'};
  x.put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  return x;
}

std::unique_ptr<GgufFile> parse(const Bytes& x) { return GgufFile::from_memory(x.b.data(), x.b.size(), "test.gguf"); }

// A valid file: one string key, one u32 key, one F32 tensor {4, 2}.
Bytes valid_file() {
  Bytes x = header(1, 2);
  x.str("general.architecture").put<uint32_t>(8).str("llama");
  x.str("llama.block_count").put<uint32_t>(4).put<uint32_t>(1);
  x.str("w").put<uint32_t>(2).put<uint64_t>(4).put<uint64_t>(2).put<uint32_t>(0).put<uint64_t>(0);
  x.pad_to(32);
  for (int i = 0; i < 8; ++i) x.put<float>(static_cast<float>(i));
  return x;
}

void expect_error(const Bytes& x, const std::string& needle) {
  try {
    parse(x);
    FAIL() << "expected an error mentioning '" << needle << "'";
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.gguf"), std::string::npos) << "error should name the file";
  }
}

TEST(GgufReader, ParsesValidFile) {
  const Bytes x = valid_file();
  auto f = parse(x);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_uint("llama.block_count"), 1u);
  ASSERT_EQ(f->tensors().size(), 1u);
  const GgufTensorInfo* t = f->find_tensor("w");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ne, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(t->nbytes, 32u);
  float v[8];
  std::memcpy(v, t->data, sizeof v);
  EXPECT_EQ(v[7], 7.f);
}

TEST(GgufReader, ReadsEveryValueTypeAndVersion2) {
  Bytes x = header(0, 13, 2);
  x.str("u8").put<uint32_t>(0).put<uint8_t>(200);
  x.str("i8").put<uint32_t>(1).put<int8_t>(-5);
  x.str("u16").put<uint32_t>(2).put<uint16_t>(60000);
  x.str("i16").put<uint32_t>(3).put<int16_t>(-300);
  x.str("u32").put<uint32_t>(4).put<uint32_t>(4000000000u);
  x.str("i32").put<uint32_t>(5).put<int32_t>(-70000);
  x.str("f32").put<uint32_t>(6).put<float>(1.5f);
  x.str("bool").put<uint32_t>(7).put<uint8_t>(1);
  x.str("str").put<uint32_t>(8).str("héllo");
  x.str("arr").put<uint32_t>(9).put<uint32_t>(5).put<uint64_t>(3).put<int32_t>(1).put<int32_t>(-2).put<int32_t>(3);
  x.str("u64").put<uint32_t>(10).put<uint64_t>(1ull << 40);
  x.str("i64").put<uint32_t>(11).put<int64_t>(-(1ll << 40));
  x.str("f64").put<uint32_t>(12).put<double>(0.25);
  auto f = parse(x);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->get_uint("u8"), 200u);
  EXPECT_EQ(f->find("i8")->i, -5);
  EXPECT_EQ(f->get_uint("u16"), 60000u);
  EXPECT_EQ(f->find("i16")->i, -300);
  EXPECT_EQ(f->get_uint("u32"), 4000000000u);
  EXPECT_EQ(f->find("i32")->i, -70000);
  EXPECT_EQ(f->get_float("f32"), 1.5);
  EXPECT_EQ(f->get_bool("bool"), true);
  EXPECT_EQ(f->get_string("str"), "héllo");
  EXPECT_EQ(f->get_int_array("arr"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f->get_uint("u64"), 1ull << 40);
  EXPECT_EQ(f->find("i64")->i, -(1ll << 40));
  EXPECT_EQ(f->get_float("f64"), 0.25);
  EXPECT_THROW(f->get_uint("i8"), GgufError);        // negative
  EXPECT_THROW(f->get_string("u8"), GgufError);      // wrong type
  EXPECT_THROW(f->get_string_array("arr"), GgufError);
  EXPECT_FALSE(f->get_uint("absent").has_value());
}

TEST(GgufReader, HonoursAlignmentKey) {
  Bytes x = header(1, 1);
  x.str("general.alignment").put<uint32_t>(4).put<uint32_t>(64);
  x.str("w").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(0);
  x.pad_to(64);
  for (int i = 0; i < 4; ++i) x.put<float>(1.f + i);
  auto f = parse(x);
  EXPECT_EQ(f->alignment(), 64u);
  float v0;
  std::memcpy(&v0, f->find_tensor("w")->data, 4);
  EXPECT_EQ(v0, 1.f);
}

TEST(GgufReader, RejectsBadMagicAndVersion) {
  Bytes x = valid_file();
  x.b[0] = 'X';
  expect_error(x, "magic");
  expect_error(header(0, 0, 1), "version 1");
  expect_error(header(0, 0, 7), "unsupported GGUF version 7");
  expect_error(header(0, 0, 0x03000000), "big-endian");
  Bytes tiny;
  tiny.b = {'G', 'G'};
  expect_error(tiny, "magic");
}

TEST(GgufReader, RejectsEveryTruncation) {
  // Cutting the valid file anywhere before its last tensor byte must give an error, never a crash.
  const Bytes full = valid_file();
  for (size_t n = 0; n < full.b.size(); ++n) {
    Bytes cut;
    cut.b.assign(full.b.begin(), full.b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(parse(cut), GgufError) << "truncated at " << n;
  }
}

TEST(GgufReader, RejectsHugeCounts) {
  expect_error(header(1ull << 62, 0), "tensor count");
  expect_error(header(0, ~0ull), "metadata count");
  Bytes x = header(0, 1);
  x.str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 60);
  expect_error(x, "array length");
  Bytes y = header(0, 1);
  y.put<uint64_t>(~0ull).put<uint64_t>(0);  // key length, then some bytes
  expect_error(y, "absurd");
  Bytes z = header(0, 1);
  z.str("k").put<uint32_t>(8).put<uint64_t>(1000);  // string longer than the file
  expect_error(z, "truncated");
}

TEST(GgufReader, RejectsBadValues) {
  Bytes x = header(0, 1);
  x.str("k").put<uint32_t>(13).put<uint32_t>(0);
  expect_error(x, "unknown value type 13");
  Bytes y = header(0, 1);
  y.str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1);
  expect_error(y, "arrays of arrays");
  Bytes z = header(0, 1);
  z.str("k").put<uint32_t>(7).put<uint8_t>(7);
  expect_error(z, "bool");
  Bytes d = header(0, 2);
  d.str("k").put<uint32_t>(4).put<uint32_t>(1);
  d.str("k").put<uint32_t>(4).put<uint32_t>(2);
  expect_error(d, "duplicate metadata key");
  Bytes a = header(0, 1);
  a.str("general.alignment").put<uint32_t>(4).put<uint32_t>(24);
  expect_error(a, "alignment");
  Bytes e = header(0, 1);
  e.str("").put<uint32_t>(4).put<uint32_t>(1);
  expect_error(e, "empty metadata key");
}

TEST(GgufReader, RejectsInvalidUtf8Strings) {
  const std::vector<std::string> bad = {"\xff", "a\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ab\xe4\xb8"};
  for (const std::string& s : bad) {
    Bytes k = header(0, 1);
    k.str(s).put<uint32_t>(4).put<uint32_t>(1);
    expect_error(k, "not valid UTF-8");
    Bytes v = header(0, 1);
    v.str("general.name").put<uint32_t>(8).str(s);
    expect_error(v, "not valid UTF-8");
    Bytes a = header(0, 1);
    a.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(2).str("ok").str(s);
    expect_error(a, "not valid UTF-8");
  }
  Bytes t = header(1, 0);
  t.str("w\xfe").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(0);
  t.pad_to(32);
  t.b.resize(t.b.size() + 16, 0);
  expect_error(t, "not valid UTF-8");
  // Well-formed multi-byte text (Chinese, U+10FFFF, the DeepSeek "▁" marker) is accepted.
  Bytes ok = header(0, 1);
  ok.str("general.name").put<uint32_t>(8).str("求索\xf4\x8f\xbf\xbf\xe2\x96\x81");
  EXPECT_EQ(parse(ok)->get_string("general.name")->size(), 13u);
}

TEST(GgufReader, BoundsTheMemoryMetadataTakes) {
  // 6M one-byte array elements: a 6 MB file whose parsed form would take over half a GiB.
  Bytes x = header(0, 1);
  const uint64_t n = 6u << 20;
  x.str("k").put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(n);
  x.b.resize(x.b.size() + n, 1);
  expect_error(x, "MiB of memory");
}

Bytes one_tensor(uint32_t n_dims, std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data_bytes) {
  Bytes x = header(1, 0);
  x.str("t").put<uint32_t>(n_dims);
  for (uint64_t d : dims) x.put<uint64_t>(d);
  x.put<uint32_t>(type).put<uint64_t>(offset);
  x.pad_to(32);
  x.b.resize(x.b.size() + data_bytes, 0);
  return x;
}

TEST(GgufReader, RejectsBadTensorInfos) {
  expect_error(one_tensor(0, {}, 0, 0, 64), "dimensions");
  expect_error(one_tensor(5, {1, 1, 1, 1, 1}, 0, 0, 64), "dimensions");
  expect_error(one_tensor(1, {0}, 0, 0, 64), "dimension 0 is 0");
  expect_error(one_tensor(2, {1ull << 40, 1ull << 40}, 0, 0, 64), "overflows");
  expect_error(one_tensor(1, {1ull << 63}, 0, 0, 64), "dimension 0");
  expect_error(one_tensor(1, {4}, 99, 0, 64), "unsupported tensor type id 99");
  expect_error(one_tensor(1, {4}, 15, 0, 64), "unsupported tensor type id 15");  // Q8_K is not a weight type
  expect_error(one_tensor(1, {33}, 8, 0, 64), "block size");                     // Q8_0 rows are multiples of 32
  expect_error(one_tensor(1, {4}, 0, 16, 64), "aligned");
  expect_error(one_tensor(1, {64}, 0, 0, 64), "past the end");
  expect_error(one_tensor(1, {4}, 0, 1ull << 62, 64), "past the end");
  expect_error(one_tensor(1, {4}, 0, ~0ull - 31, 64), "past the end");  // offset + size wraps
}

TEST(GgufReader, RejectsOverlapAndDuplicates) {
  Bytes x = header(2, 0);
  x.str("a").put<uint32_t>(1).put<uint64_t>(16).put<uint32_t>(0).put<uint64_t>(0);
  x.str("b").put<uint32_t>(1).put<uint64_t>(16).put<uint32_t>(0).put<uint64_t>(32);
  x.pad_to(32);
  x.b.resize(x.b.size() + 128, 0);
  expect_error(x, "overlap");
  Bytes y = header(2, 0);
  y.str("a").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(0);
  y.str("a").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(32);
  y.pad_to(32);
  y.b.resize(y.b.size() + 128, 0);
  expect_error(y, "duplicate tensor name");
}

TEST(GgufReader, OpenReportsMissingFile) {
  try {
    GgufFile::open("/nonexistent/model.gguf");
    FAIL();
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
  }
  EXPECT_THROW(GgufFile::open("/tmp"), GgufError);
}

TEST(GgufReader, ModelLoaderRefusesUnknownArchitectureWithList) {
  Bytes x = header(0, 1);
  x.str("general.architecture").put<uint32_t>(8).str("mamba");
  try {
    Model::from_file(parse(x));
    FAIL();
  } catch (const GgufError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("mamba"), std::string::npos);
    EXPECT_NE(msg.find("deepseek2, deepseek32, qwen2, llama"), std::string::npos) << msg;
  }
}

TEST(GgufReader, ModelLoaderNamesMissingTensorsAndBadShapes) {
  const Bytes x = valid_file();  // llama with block_count 1 but no llama tensors
  Bytes y = header(1, 3);
  y.str("general.architecture").put<uint32_t>(8).str("llama");
  y.str("llama.block_count").put<uint32_t>(4).put<uint32_t>(1);
  y.str("llama.embedding_length").put<uint32_t>(4).put<uint32_t>(8);
  y.str("llama.attention.head_count").put<uint32_t>(4).put<uint32_t>(2);  // n_kv said 3; fix header
  (void)x;
  Bytes z = header(1, 4);
  z.str("general.architecture").put<uint32_t>(8).str("llama");
  z.str("llama.block_count").put<uint32_t>(4).put<uint32_t>(1);
  z.str("llama.embedding_length").put<uint32_t>(4).put<uint32_t>(8);
  z.str("llama.attention.head_count").put<uint32_t>(4).put<uint32_t>(2);
  z.str("token_embd.weight").put<uint32_t>(2).put<uint64_t>(6).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(0);
  z.pad_to(32);
  z.b.resize(z.b.size() + 96, 0);
  try {
    Model::from_file(parse(z));
    FAIL();
  } catch (const GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("token_embd.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qs
