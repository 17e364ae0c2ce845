// Helpers shared by the CLI verbs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tensor/ggml_type.h"

namespace qs::cli {

// The model a verb runs: positional MODEL or -m/--model, as llama.cpp and ollama users type it.
CLI::Option* add_model_option(CLI::App* cmd, std::string& path,
                              const std::string& help = "GGUF model file (any shard of a split set)");

// "0,5,9" or "0 5 9" -> ids; throws std::invalid_argument naming the bad item.
std::vector<int32_t> parse_token_list(const std::string& s);
// --cache-type: f16 (default), bf16, q8_0 or f32.
qs::GgmlType parse_cache_type(const std::string& s);
// Applies --threads (0 keeps the default).
void apply_threads(int n);
// -t/--threads (0: every core; QIUSUO_THREADS sets the default).
CLI::Option* add_threads_option(CLI::App* cmd, int& threads);

}  // namespace qs::cli
