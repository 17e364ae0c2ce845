// `qiusuo convert DIR -o OUT.gguf`: a Hugging Face checkpoint (DeepSeek's FP8 releases included) to GGUF.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "convert/convert.h"
#include "util/progress.h"

namespace qs::cli {

void register_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Convert a Hugging Face checkpoint folder (safetensors, FP8 included) to GGUF");
  static ConvertOptions o;
  static std::string type = "bf16";
  cmd->add_option("dir", o.dir, "folder with config.json, *.safetensors and tokenizer.json")->required();
  cmd->add_option("-o,--output", o.output, "GGUF file to write")->required();
  cmd->add_option("--type", type, std::string("type of the weight matrices: ") + convert_type_names() +
                                      " (norms and the router stay f32; quantize later for mixes)")
      ->capture_default_str();
  cmd->add_option("--name", o.name, "general.name (default: the folder's name)");
  cmd->callback([] {
    o.type = convert_type_from_name(type);
    o.progress_tty = isatty(STDERR_FILENO);
    const ConvertResult r = convert_checkpoint(o);
    std::fprintf(stderr, "convert: wrote %zu tensors, %s, vocabulary %lld\n", r.n_tensors,
                 human_bytes(static_cast<double>(r.n_bytes)).c_str(), static_cast<long long>(r.n_vocab));
    std::printf("%s\n", o.output.c_str());
  });
}

}  // namespace qs::cli
