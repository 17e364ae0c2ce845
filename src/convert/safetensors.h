// Hugging Face safetensors checkpoints, memory-mapped: one `model.safetensors` or shards listed by
// `model.safetensors.index.json`. Every header field is checked (length, dtype, shape, offsets inside the
// file, byte counts matching the shape) so a malformed checkpoint is a clear error, never a wild read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace qs {

struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class StDtype { F32, F16, BF16, F8_E4M3, I64, I32, U8 };
const char* st_dtype_name(StDtype t);
size_t st_dtype_size(StDtype t);

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;  // row-major, PyTorch order (shape.back() is contiguous)
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;            // which shard holds it
  int64_t numel() const;
  int64_t rows() const { return shape.empty() ? 1 : numel() / shape.back(); }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
};

// One mapped .safetensors file.
class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;  // what the format itself allows
  explicit SafetensorsFile(const std::string& path);
  // Parses bytes already in memory (tests, fuzzing); they must outlive the object.
  SafetensorsFile(const uint8_t* data, size_t size, std::string label);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  const std::vector<StTensor>& tensors() const { return tensors_; }

 private:
  void parse();

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<StTensor> tensors_;
};

// A checkpoint folder's tensors, across shards.
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& dir);
  const StTensor* find(const std::string& name) const;
  const StTensor& at(const std::string& name) const;  // CheckpointError naming the tensor when absent
  const std::map<std::string, const StTensor*>& tensors() const { return index_; }
  size_t n_files() const { return files_.size(); }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const StTensor*> index_;
};

}  // namespace qs
