// `quantize`: a GGUF (or split set) to another type or mix, tensor by tensor, optionally written as a
// split set (gguf-split's layout: the first shard holds the metadata, every shard split.no / split.count /
// split.tensors.count and a run of tensors).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qs {

struct QuantizeOptions {
  std::string input, output;
  std::string type;                       // a QuantRecipe name
  std::vector<std::string> tensor_types;  // REGEX=TYPE overrides
  uint64_t split_max_bytes = 0;           // 0: one file
  int threads = 0;                        // 0: every core
  bool progress_tty = false;
};

struct QuantizeResult {
  std::vector<std::string> files;  // written, in order
  uint64_t bytes = 0;
  size_t n_tensors = 0, n_requantized = 0;
};

QuantizeResult quantize_model(const QuantizeOptions& o);

// "50G", "512M", "4096" -> bytes; throws std::invalid_argument.
uint64_t parse_size(const std::string& s);

}  // namespace qs
