// qiusuo synth --arch deepseek2|deepseek32|qwen2|llama --preset NAME [--layers N] [--type TYPE] [--seed S]
//              [--tokenizer tokenizer.json] [--tokenizer-pre NAME] [--mla-layout legacy|ik|mainline] -o FILE
// Writes a GGUF shaped like a real model, with seeded random weights.
#include <cstdio>
#include <string>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "synth/synth.h"

namespace qs::cli {

namespace {

struct SynthArgs {
  std::string arch = "deepseek2", preset = "tiny", type = "f16", mla_layout = "legacy";
  std::string tokenizer, tokenizer_pre, output;
  int64_t layers = 0;
  uint64_t seed = 42;
  int threads = 0;
};

std::string join_presets() {
  std::string s;
  for (const auto& a : synth_archs()) {
    s += (s.empty() ? "" : "; ") + a + ":";
    for (const auto& p : synth_presets(a)) s += " " + p;
  }
  return s;
}

void run_synth(const SynthArgs& a) {
  SynthOptions o;
  o.arch = a.arch;
  o.preset = a.preset;
  (void)synth_preset(o.arch, o.preset);  // validate names before anything is created
  o.n_layers = a.layers;
  o.type = synth_type_from_name(a.type);
  o.seed = a.seed;
  o.tokenizer_json = a.tokenizer;
  o.tokenizer_pre = a.tokenizer_pre;
  o.mla_layout = mla_layout_from_name(a.mla_layout);
  o.threads = a.threads;
  o.output = a.output;
  const SynthResult r = write_synthetic_model(o);
  std::fprintf(stderr, "synth: %s %s %s: %.1fM params, %zu tensors, vocab %lld, %.1f MiB in %.2f s -> %s\n",
               o.arch.c_str(), o.preset.c_str(), a.type.c_str(), static_cast<double>(r.n_params) / 1e6, r.n_tensors,
               static_cast<long long>(r.n_vocab), static_cast<double>(r.n_bytes) / (1 << 20), r.seconds,
               o.output.c_str());
}

}  // namespace

void register_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a model-shaped GGUF with seeded random weights (tests, benchmarks)");
  static SynthArgs a;
  cmd->add_option("--arch", a.arch, "deepseek2, deepseek32, qwen2 or llama")->capture_default_str();
  cmd->add_option("--preset", a.preset, "model shape (" + join_presets() + ")")->capture_default_str();
  cmd->add_option("--layers", a.layers, "override the preset's layer count");
  cmd->add_option("--type", a.type, std::string("weight type: ") + synth_type_names() +
                                        " (norms, biases and the router stay F32)")
      ->capture_default_str();
  cmd->add_option("--seed", a.seed, "random seed")->capture_default_str();
  cmd->add_option("--tokenizer", a.tokenizer, "Hugging Face tokenizer.json to embed (tokenizer_config.json beside it is read too)");
  cmd->add_option("--tokenizer-pre", a.tokenizer_pre, "override tokenizer.ggml.pre (e.g. deepseek-v3, llama-bpe)");
  cmd->add_option("--mla-layout", a.mla_layout, "MLA attention tensors (deepseek2, deepseek32): legacy, ik or mainline")->capture_default_str();
  add_threads_option(cmd, a.threads);
  cmd->add_option("-o,--output", a.output, "output GGUF file")->required();
  cmd->callback([] { run_synth(a); });
}

}  // namespace qs::cli
