// A streaming GGUF v3 writer: metadata and the tensor table first, then tensor data one tensor at a
// time (in the order the tensors were added), so a multi-GB model never has to sit in memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf_value.h"
#include "tensor/ggml_type.h"

namespace qs {

class GgufWriter {
 public:
  static constexpr uint64_t kDefaultAlignment = 32;

  // Writes to `path` (via `path + ".tmp"`, renamed by finish(), so a failed run leaves no
  // half-written file that looks valid).
  explicit GgufWriter(std::string path, uint64_t alignment = kDefaultAlignment);
  // Writes into a caller-owned buffer (tests).
  explicit GgufWriter(std::vector<uint8_t>* sink, uint64_t alignment = kDefaultAlignment);
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata, kept in insertion order; setting a key again replaces its value in place.
  void set(const std::string& key, GgufValue v);
  // ne in ggml order (ne[0] = row length, must be a multiple of the type's block size).
  void add_tensor(const std::string& name, std::vector<int64_t> ne, GgmlType type);

  // Header + metadata (general.alignment is added if absent) + tensor table + padding.
  void write_header();
  // Appends bytes to tensor `name`, which must be the first tensor not yet complete; may be called
  // several times per tensor (row by row). Padding follows automatically once the tensor is full.
  void write_tensor_data(const std::string& name, const void* data, size_t n);
  // Checks every tensor was written in full, flushes, and (for files) renames into place.
  void finish();

  uint64_t bytes_written() const { return pos_; }
  size_t tensor_nbytes(size_t idx) const { return tensors_.at(idx).nbytes; }
  size_t n_tensors() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    size_t nbytes;
    uint64_t offset;
  };

  void emit(const void* p, size_t n);
  void emit_u32(uint32_t v) { emit(&v, 4); }
  void emit_u64(uint64_t v) { emit(&v, 8); }
  void emit_str(const std::string& s);
  void emit_scalar(const GgufValue& v, GgufValueType t);
  void emit_value(const GgufValue& v);
  void pad_to_alignment();
  void flush_buffer();

  std::string path_, tmp_path_;
  std::FILE* fp_ = nullptr;
  std::vector<uint8_t>* sink_ = nullptr;
  std::vector<uint8_t> buf_;  // large staging buffer so the OS sees few big writes
  uint64_t alignment_;
  uint64_t pos_ = 0;          // bytes emitted so far (file offset)
  uint64_t data_start_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
  uint64_t next_offset_ = 0;  // data-section offset for the next added tensor
  bool header_done_ = false, finished_ = false;
  size_t cur_ = 0;            // tensor currently being written
  size_t cur_written_ = 0;    // bytes of it written so far
};

// One tensor with its bytes, for gguf_build_in_memory.
struct GgufTensorBlob {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type = GgmlType::F32;
  std::vector<uint8_t> data;
};

// Builds a whole GGUF file in memory (tests, small fixtures).
std::vector<uint8_t> gguf_build_in_memory(const std::vector<std::pair<std::string, GgufValue>>& kv,
                                          const std::vector<GgufTensorBlob>& tensors,
                                          uint64_t alignment = GgufWriter::kDefaultAlignment);

}  // namespace qs
