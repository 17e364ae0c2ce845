// `convert`: a Hugging Face checkpoint folder (config.json, safetensors, tokenizer.json) to one GGUF that
// llama.cpp and qiusuo load, tensor by tensor (memory stays at a few row blocks however large the model).
#pragma once
#include <cstdint>
#include <string>

#include "tensor/ggml_type.h"

namespace qs {

struct ConvertOptions {
  std::string dir;     // the checkpoint folder
  std::string output;  // .gguf
  GgmlType type = GgmlType::BF16;
  std::string name;    // general.name ("" = the folder's name)
  bool progress_tty = false;
};

struct ConvertResult {
  size_t n_tensors = 0;
  uint64_t n_bytes = 0;
  int64_t n_vocab = 0;
};

// Throws CheckpointError (malformed input) or std::runtime_error (I/O).
ConvertResult convert_checkpoint(const ConvertOptions& o);

// Types `convert --type` accepts, for help and errors.
const char* convert_type_names();
GgmlType convert_type_from_name(const std::string& name);  // throws std::invalid_argument listing them

}  // namespace qs
