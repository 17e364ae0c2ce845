// Helpers shared by the CLI verbs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "model/model.h"
#include "tensor/ggml_type.h"

namespace qs::cli {

// The model a verb runs: positional MODEL or -m/--model, as llama.cpp and ollama users type it.
CLI::Option* add_model_option(CLI::App* cmd, std::string& path,
                              const std::string& help = "GGUF model file (any shard of a split set)");

// A model argument as a file path: a path is kept; a hub reference (owner/repo[:TAG]) becomes the cached
// file's path, pulled first when `may_pull` and not offline (--offline, HF_HUB_OFFLINE=1, QIUSUO_OFFLINE=1).
// Throws std::runtime_error saying how to get the model otherwise.
enum class ModelFetch { CacheOnly, PullIfMissing };
std::string resolve_model_arg(const std::string& arg, ModelFetch fetch = ModelFetch::CacheOnly, bool offline = false);

// Load options whose progress callback shows a bar on stderr ("load") once loading has taken a second
// (mapping is instant; rearranging hundreds of GB of weights is not).
LoadOptions load_options_with_progress();

// "0,5,9" or "0 5 9" -> ids; throws std::invalid_argument naming the bad item.
std::vector<int32_t> parse_token_list(const std::string& s);
// --cache-type: f16 (default), bf16, q8_0 or f32.
qs::GgmlType parse_cache_type(const std::string& s);
// Applies --threads (0 keeps the default).
void apply_threads(int n);
// -t/--threads (0: every core; QIUSUO_THREADS sets the default).
CLI::Option* add_threads_option(CLI::App* cmd, int& threads);

}  // namespace qs::cli
