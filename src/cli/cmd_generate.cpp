// qiusuo generate -m MODEL (--tokens IDS | -p TEXT) -n N [--temp T --top-p P --seed S] [--ids]
// Prints only the continuation: its text, or its token ids with --ids. Greedy at --temp 0.
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "engine/generator.h"
#include "model/model.h"
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
  auto m = Model::load(resolve_model_arg(a.model), load_options_with_progress());
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

  const int n_ctx = a.ctx > 0 ? a.ctx : static_cast<int>(prompt.size()) + a.n_predict;
  if (static_cast<int>(prompt.size()) + a.n_predict > n_ctx)
    throw std::invalid_argument("prompt + -n exceed the context size " + std::to_string(n_ctx));
  auto seq = m->new_sequence(n_ctx);
  std::optional<TokenRules> rules;
  if (tok) rules.emplace(*tok);
  GenerationParams gp;
  gp.sampling = a.sp;
  gp.ignore_eos = a.ignore_eos;
  Generator gen(tok ? &*tok : nullptr, rules ? &*rules : nullptr, gp, prompt);
  const SequenceRun run = run_sequence(*m, *seq, prompt, static_cast<int>(prompt.size()), gen, a.n_predict,
                                       [&](const Generator::Step& st) {
                                         if (st.end_of_turn) return;
                                         if (a.ids) std::printf(gen.generated() > 1 ? " %d" : "%d", st.token);
                                         else std::fwrite(st.text.data(), 1, st.text.size(), stdout);
                                         std::fflush(stdout);
                                       });
  const std::string rest = gen.finish();
  if (!a.ids) std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::printf("\n");
  if (a.verbose) {
    const int generated = gen.generated();
    std::fprintf(stderr, "prompt: %zu tokens, %.2f tok/s; generation: %d tokens, %.2f tok/s\n", prompt.size(),
                 prompt.size() / run.prompt_seconds, generated, generated > 0 ? generated / run.generate_seconds : 0.0);
  }
}

}  // namespace

void register_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Continue a prompt and print only the continuation");
  static GenerateArgs a;
  a.sp.temperature = 0.8f;
  add_model_option(cmd, a.model);
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
  cmd->add_option("-c,--ctx-size", a.ctx, "context size (0: prompt + n)")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--cache-type", a.cache_type, "KV cache type: f16, bf16, q8_0, f32");
  add_threads_option(cmd, a.threads);
  cmd->add_flag("--ids", a.ids, "print token ids instead of text");
  cmd->add_flag("--ignore-eos", a.ignore_eos, "keep generating past end-of-sequence tokens");
  cmd->add_flag("--verbose", a.verbose, "print prompt and generation speed to stderr");
  cmd->callback([] { run_generate(a); });
}

}  // namespace qs::cli
