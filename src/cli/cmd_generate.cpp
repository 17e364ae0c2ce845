// qiusuo generate -m MODEL (--tokens IDS | -p TEXT) -n N [--temp T --top-p P --seed S] [--ids]
// Prints only the continuation: its text, or its token ids with --ids. Greedy at --temp 0.
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "engine/sampler.h"
#include "model/model.h"
#include "tokenizer/incremental_decoder.h"
#include "tokenizer/tokenizer.h"

namespace qs::cli {

namespace {

struct GenerateArgs {
  std::string model, tokens, prompt, cache_type = "f16";
  int n_predict = 64;
  int threads = 0;
  int ctx = 0;
  bool ids = false;
  bool ignore_eos = false;
  bool verbose = false;
  SamplingParams sp;
};

void run_generate(GenerateArgs a) {
  apply_threads(a.threads);
  if (a.tokens.empty() == a.prompt.empty()) throw std::invalid_argument("give exactly one of --tokens or -p/--prompt");
  if (a.n_predict < 0) throw std::invalid_argument("-n must be >= 0");
  auto m = Model::load(a.model);
  m->set_cache_type(parse_cache_type(a.cache_type));
  std::optional<Tokenizer> tok;
  if (m->file().find("tokenizer.ggml.tokens")) tok = Tokenizer::from_gguf(m->file());
  std::vector<int32_t> prompt;
  if (!a.tokens.empty()) {
    prompt = parse_token_list(a.tokens);
  } else {
    if (!tok) throw std::invalid_argument("the model carries no tokenizer; pass --tokens");
    prompt = tok->encode(a.prompt, tok->add_bos(), /*parse_special=*/true);
    if (prompt.empty()) throw std::invalid_argument("the prompt encodes to no tokens");
  }
  if (!a.ids && !tok) throw std::invalid_argument("the model has no vocabulary to print text with; use --ids");
  std::optional<IncrementalDecoder> text_out;
  if (!a.ids) text_out.emplace(*tok, std::vector<std::string>{}, /*skip_special=*/true);

  const int n_ctx = a.ctx > 0 ? a.ctx : static_cast<int>(prompt.size()) + a.n_predict;
  if (static_cast<int>(prompt.size()) + a.n_predict > n_ctx)
    throw std::invalid_argument("prompt + -n exceed the context size " + std::to_string(n_ctx));
  auto seq = m->new_sequence(n_ctx);
  Sampler sampler(a.sp);
  std::vector<float> logits(static_cast<size_t>(m->n_vocab()));
  std::vector<int32_t> history = prompt;

  const auto t0 = std::chrono::steady_clock::now();
  m->forward(*seq, prompt.data(), static_cast<int>(prompt.size()), logits.data(), false);
  const auto t1 = std::chrono::steady_clock::now();
  int generated = 0;
  for (int i = 0; i < a.n_predict; ++i) {
    const int32_t id = sampler.sample(logits.data(), m->n_vocab(), history);
    if (!a.ignore_eos && tok && tok->is_eog(id)) break;
    history.push_back(id);
    ++generated;
    if (a.ids) std::printf(i ? " %d" : "%d", id);
    else {
      const std::string piece = text_out->push(id).text;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
    }
    std::fflush(stdout);
    if (i + 1 < a.n_predict) m->forward(*seq, &id, 1, logits.data(), false);
  }
  if (text_out) {
    const std::string rest = text_out->finish().text;
    std::fwrite(rest.data(), 1, rest.size(), stdout);
  }
  std::printf("\n");
  const auto t2 = std::chrono::steady_clock::now();
  if (a.verbose) {
    const double pp = std::chrono::duration<double>(t1 - t0).count(), tg = std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(stderr, "prompt: %zu tokens, %.2f tok/s; generation: %d tokens, %.2f tok/s\n", prompt.size(),
                 prompt.size() / pp, generated, generated > 0 ? generated / tg : 0.0);
  }
}

}  // namespace

void register_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Continue a prompt and print only the continuation");
  static GenerateArgs a;
  a.sp.temperature = 0.8f;
  cmd->add_option("-m,--model", a.model, "GGUF model file")->required();
  cmd->add_option("--tokens", a.tokens, "prompt as token ids (used exactly, no BOS added)");
  cmd->add_option("-p,--prompt", a.prompt, "prompt text");
  cmd->add_option("-n,--n-predict", a.n_predict, "tokens to generate");
  cmd->add_option("--temp", a.sp.temperature, "temperature (0 = greedy)");
  cmd->add_option("--top-k", a.sp.top_k, "top-k (0 = off)");
  cmd->add_option("--top-p", a.sp.top_p, "top-p (1 = off)");
  cmd->add_option("--min-p", a.sp.min_p, "min-p (0 = off)");
  cmd->add_option("--repeat-penalty", a.sp.repeat_penalty, "repetition penalty (1 = off)");
  cmd->add_option("--presence-penalty", a.sp.presence_penalty, "presence penalty");
  cmd->add_option("--frequency-penalty", a.sp.frequency_penalty, "frequency penalty");
  cmd->add_option("--seed", a.sp.seed, "random seed");
  cmd->add_option("-c,--ctx-size", a.ctx, "context size (default: prompt + n)");
  cmd->add_option("--cache-type", a.cache_type, "KV cache type: f16, bf16, q8_0, f32");
  cmd->add_option("-t,--threads", a.threads, "threads (default: all cores)");
  cmd->add_flag("--ids", a.ids, "print token ids instead of text");
  cmd->add_flag("--ignore-eos", a.ignore_eos, "keep generating past end-of-sequence tokens");
  cmd->add_flag("--verbose", a.verbose, "print prompt and generation speed to stderr");
  cmd->callback([] { run_generate(a); });
}

}  // namespace qs::cli
