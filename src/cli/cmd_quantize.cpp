// `qiusuo quantize IN.gguf OUT.gguf TYPE`: another type or one of llama.cpp's mixes (Q4_K_M ...).
#include <unistd.h>

#include <cstdio>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "convert/quant_recipe.h"
#include "convert/quantize_model.h"
#include "util/progress.h"

namespace qs::cli {

void register_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Quantize a GGUF model to another type or mix (Q4_K_M, Q8_0, ...)");
  static QuantizeOptions o;
  static std::string split_size;
  cmd->add_option("input", o.input, "GGUF model (any shard of a split set, or owner/repo:TAG)")->required();
  cmd->add_option("output", o.output, "GGUF file to write (NAME-0000i-of-0000N.gguf with --split-max-size)")->required();
  cmd->add_option("type", o.type, std::string("target: ") + QuantRecipe::names())->required();
  cmd->add_option("--tensor-type", o.tensor_types, "REGEX=TYPE: tensors whose name matches get TYPE (repeatable; later wins)");
  cmd->add_option("--split-max-size", split_size, "write a split set with shards of at most this size (e.g. 50G)");
  add_threads_option(cmd, o.threads);
  cmd->callback([] {
    o.input = resolve_model_arg(o.input);
    if (!split_size.empty()) o.split_max_bytes = parse_size(split_size);
    o.progress_tty = isatty(STDERR_FILENO);
    const QuantizeResult r = quantize_model(o);
    std::fprintf(stderr, "quantize: wrote %zu tensors, %s in %zu file%s\n", r.n_tensors, human_bytes(static_cast<double>(r.bytes)).c_str(),
                 r.files.size(), r.files.size() == 1 ? "" : "s");
    std::printf("%s\n", r.files.front().c_str());
  });
}

}  // namespace qs::cli
