// qiusuo logits -m MODEL --tokens 0,5,9 --out FILE: every position's logits from one prefill batch,
// written as n_tokens × n_vocab float32 little-endian. The ids are used exactly as given.
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "model/model.h"

namespace qs::cli {

namespace {

struct LogitsArgs {
  std::string model, tokens, out, mla = "auto", cache_type = "f16";
  int threads = 0;
};

MlaMode parse_mla_mode(const std::string& s) {
  if (s == "auto") return MlaMode::Auto;
  if (s == "absorbed") return MlaMode::Absorbed;
  if (s == "decompressed") return MlaMode::Decompressed;
  throw std::invalid_argument("--mla must be auto, absorbed or decompressed");
}

void run_logits(const LogitsArgs& a) {
  apply_threads(a.threads);
  const std::vector<int32_t> ids = parse_token_list(a.tokens);
  auto m = Model::load(resolve_model_arg(a.model));
  m->set_mla_mode(parse_mla_mode(a.mla));
  m->set_cache_type(parse_cache_type(a.cache_type));
  auto seq = m->new_sequence(static_cast<int>(ids.size()));
  std::vector<float> logits(ids.size() * static_cast<size_t>(m->n_vocab()));
  m->forward(*seq, ids.data(), static_cast<int>(ids.size()), logits.data(), true);
  std::ofstream out(a.out, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + a.out);
  out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
  if (!out) throw std::runtime_error("write failed: " + a.out);
  std::fprintf(stderr, "wrote %zu x %d logits to %s\n", ids.size(), m->n_vocab(), a.out.c_str());
}

}  // namespace

void register_logits(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Write the logits of every position of a token sequence (float32 LE)");
  static LogitsArgs a;
  add_model_option(cmd, a.model);
  cmd->add_option("--tokens", a.tokens, "token ids, comma separated, evaluated from position 0")->required();
  cmd->add_option("--out,-o", a.out, "output file")->required();
  cmd->add_option("--mla", a.mla, "MLA attention path: auto, absorbed, decompressed");
  cmd->add_option("--cache-type", a.cache_type, "KV cache type: f16, bf16, q8_0, f32");
  add_threads_option(cmd, a.threads);
  cmd->callback([] { run_logits(a); });
}

}  // namespace qs::cli
