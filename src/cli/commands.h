// Each CLI verb lives in its own cmd_*.cpp and registers itself on the root app here.
#pragma once
#include <CLI/CLI.hpp>

namespace qs::cli {

void register_info(CLI::App& app);
void register_logits(CLI::App& app);
void register_generate(CLI::App& app);
void register_synth(CLI::App& app);
void register_bench(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_detokenize(CLI::App& app);
void register_template(CLI::App& app);
void register_serve(CLI::App& app);
void register_run(CLI::App& app);
void register_pull(CLI::App& app);
void register_list(CLI::App& app);
void register_rm(CLI::App& app);
void register_convert(CLI::App& app);
void register_quantize(CLI::App& app);

}  // namespace qs::cli
