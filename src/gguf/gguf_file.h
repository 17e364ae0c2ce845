// A GGUF file (versions 2 and 3), memory-mapped read-only and validated as it is parsed.
// Every count, length and offset read from the file is checked against the bytes that remain and
// against sane limits before it is used, so a hostile file yields a GgufError, never a crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/gguf_value.h"
#include "tensor/ggml_type.h"

namespace qs {

class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;     // ggml order: ne[0] is the contiguous (row) dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;         // relative to the start of the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  uint32_t shard = 0;          // which file of a split set holds it (0: the first, or a single file)
  int64_t n_elements() const;
  int64_t rows() const { return ne.empty() ? 0 : n_elements() / ne[0]; }
};

// The parts of a split-set shard's file name, NAME-00002-of-00009.gguf; nullopt for other names.
struct ShardName {
  std::string prefix;  // NAME (with its directory)
  uint32_t index = 0, count = 0;
};
std::optional<ShardName> parse_shard_name(const std::string& path);

class GgufFile {
 public:
  // Limits that bound what a file can make us allocate while parsing.
  static constexpr uint64_t kMaxTensors = 1u << 20;
  static constexpr uint64_t kMaxKeys = 1u << 20;
  static constexpr uint64_t kMaxStringBytes = 1u << 26;  // 64 MiB (chat templates are < 100 KiB)
  static constexpr uint64_t kMaxArrayElems = 1u << 26;
  static constexpr uint64_t kMaxDims = 4;
  // Memory the parsed metadata may take (DeepSeek-V3's 129k-token vocabulary and merges take ~30 MiB).
  static constexpr uint64_t kMaxMetadataBytes = uint64_t{512} << 20;

  // Opens a file, or a whole split set (llama.cpp's gguf-split: NAME-00001-of-0000N.gguf, keys
  // split.no / split.count / split.tensors.count) from the path of any of its shards: every shard is
  // mapped, checked to belong to the set, and its tensors joined to the first shard's metadata.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parse a buffer already in memory (tests, fuzzing). The bytes must outlive the object.
  static std::unique_ptr<GgufFile> from_memory(const uint8_t* data, size_t size, std::string label);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  // The first shard's path for a split set.
  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  // Bytes of all files of the set.
  size_t file_size() const;

  struct Shard {
    std::string path;
    size_t size;
    size_t n_tensors;
  };
  // The files of a split set in order (one entry for a single file).
  std::vector<Shard> shards() const;
  uint64_t alignment() const { return alignment_; }

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* find_tensor(const std::string& name) const;

  // Typed accessors: throw GgufError naming the key when the value has the wrong type or range.
  std::optional<uint64_t> get_uint(const std::string& key) const;
  std::optional<double> get_float(const std::string& key) const;
  std::optional<bool> get_bool(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;  // empty if absent
  std::vector<int64_t> get_int_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;

 private:
  GgufFile() = default;
  void parse();
  static std::unique_ptr<GgufFile> open_one(const std::string& path);
  // Opens the other shards of the set this (first) shard heads and takes over their tensors.
  void join_shards(const std::string& prefix, uint32_t count);

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
  std::vector<std::unique_ptr<GgufFile>> shards_;  // the other files of a split set (they own their mappings)
};

}  // namespace qs
