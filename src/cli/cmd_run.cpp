// qiusuo run MODEL [PROMPT] (alias: chat) — an interactive terminal chat like `ollama run`.
// With PROMPT it answers once and exits (no banner, stdin untouched); otherwise it reads messages
// from stdin (a terminal or a pipe) until /bye or EOF. Reasoning is shown dimmed on a terminal.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/chat_commands.h"
#include "cli/chat_printer.h"
#include "cli/chat_session.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "util/file_io.h"

namespace qs::cli {

namespace {

struct RunArgs {
  std::string model, template_file, system, color = "auto", cache_type = "f16";
  bool offline = false;
  std::string reasoning = "auto";
  std::vector<std::string> positional;  // MODEL [PROMPT...] (or PROMPT... with -m)
  std::optional<float> temperature, top_p;
  std::optional<uint64_t> seed;
  int top_k = 0;
  float min_p = 0.0f;
  int max_tokens = 1024;
  int ctx = 4096;
  int threads = 0;
  bool verbose = false;
  bool hide_thinking = false;
  bool no_cache_reuse = false;
};

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_sigint(int) { g_stop = 1; }

bool use_color(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* term = std::getenv("TERM");
  return isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR") && !(term && std::string(term) == "dumb");
}

std::string rstrip(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.pop_back();
  return s;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// One line from stdin without its line ending; false at EOF.
bool read_line(std::string& line) {
  if (!std::getline(std::cin, line)) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

// A message that began with """ on `first`: lines until one ending in """. eof is set when stdin
// ended first (the text so far is still returned).
std::string read_multiline(const std::string& first, bool interactive, bool& eof) {
  std::string text = first.substr(first.find("\"\"\"") + 3);
  std::string closed = rstrip(text);
  if (closed.size() >= 3 && closed.compare(closed.size() - 3, 3, "\"\"\"") == 0) return closed.substr(0, closed.size() - 3);
  std::string line;
  for (;;) {
    if (interactive) {
      std::fputs("... ", stdout);
      std::fflush(stdout);
    }
    if (!read_line(line)) {
      eof = true;
      return text;
    }
    closed = rstrip(line);
    const bool last = closed.size() >= 3 && closed.compare(closed.size() - 3, 3, "\"\"\"") == 0;
    if (!text.empty()) text += '\n';
    text += last ? closed.substr(0, closed.size() - 3) : line;
    if (last) return text;
  }
}

class Runner {
 public:
  Runner(const RunArgs& a, ChatSession& session, ReplState& st) : session_(session), st_(st), color_(use_color(a.color)) {}

  // Answers one message; false when it cannot fit the context even on its own (see too_long()).
  bool answer(const std::string& text, bool interactive) {
    if (!session_.begin_turn(text, st_.settings)) {
      if (session_.turns() == 0) return false;
      std::fprintf(stderr, "qiusuo: the conversation no longer fits the context of %d tokens; clearing it (/clear)\n",
                   session_.context_size());
      session_.clear();
      return answer(text, interactive);
    }
    ReplyPrinter out(stdout, color_, st_.show_thinking, session_.prompt_opens_reasoning());
    g_stop = 0;
    struct sigaction sa {}, old {};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);  // Ctrl-C stops this answer, not the program
    const TurnStats s = session_.generate(st_.settings, [&](std::string_view t) { out.text(t); }, &g_stop);
    sigaction(SIGINT, &old, nullptr);
    out.finish();
    if (s.context_full) std::fprintf(stderr, "qiusuo: context full (%d tokens); use /clear to start over\n", session_.context_size());
    if (s.interrupted) std::fprintf(stderr, "qiusuo: interrupted\n");
    if (interactive) std::fputs("\n", stdout);
    std::fflush(stdout);
    if (st_.verbose) {
      const int evaluated = s.prompt_tokens - s.reused_tokens;
      std::fprintf(stderr, "prompt: %d tokens (%d cached, %d evaluated) %.2f tok/s; generation: %d tokens, %.2f tok/s\n",
                   s.prompt_tokens, s.reused_tokens, evaluated, s.prompt_seconds > 0 ? evaluated / s.prompt_seconds : 0.0,
                   s.generated_tokens, s.generate_seconds > 0 ? s.generated_tokens / s.generate_seconds : 0.0);
    }
    return true;
  }

  std::string too_long() const {
    return "the message does not fit the context of " + std::to_string(session_.context_size()) + " tokens (see --ctx-size)";
  }

  void repl() {
    const bool interactive = isatty(STDIN_FILENO);
    if (interactive) std::fprintf(stderr, "Send a message (/? for help, /bye to exit, \"\"\" for multi-line)\n");
    std::string line;
    bool eof = false;
    while (!eof) {
      if (interactive) {
        std::fputs(">>> ", stdout);
        std::fflush(stdout);
      }
      if (!read_line(line)) break;
      std::string text;
      const size_t first = line.find_first_not_of(" \t");
      if (first != std::string::npos && line.compare(first, 3, "\"\"\"") == 0) {
        text = read_multiline(line, interactive, eof);
      } else if (first != std::string::npos && line[first] == '/') {
        const CommandResult r = handle_command(line.substr(first), st_, session_, stdout);
        if (r == CommandResult::Exit) break;
        if (r == CommandResult::Clear) session_.clear();
        continue;
      } else {
        text = line;
      }
      if (blank(text)) continue;
      try {  // one bad turn (a template that raises, say) should not end the chat
        if (!answer(text, interactive)) std::fprintf(stderr, "qiusuo: %s\n", too_long().c_str());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "qiusuo: error: %s\n", e.what());
      }
    }
  }

 private:
  ChatSession& session_;
  ReplState& st_;
  bool color_;
};

void run_chat(RunArgs a) {
  apply_threads(a.threads);
  std::vector<std::string> pos = a.positional;
  if (a.model.empty()) {
    if (pos.empty()) throw std::invalid_argument("give a model: qiusuo run MODEL [PROMPT]");
    a.model = pos.front();
    pos.erase(pos.begin());
  }
  std::string prompt;
  for (const auto& p : pos) prompt += (prompt.empty() ? "" : " ") + p;
  if (a.max_tokens < 0) throw std::invalid_argument("-n/--max-tokens must be >= 0");
  if (a.ctx < 8) throw std::invalid_argument("--ctx-size must be at least 8");

  a.model = resolve_model_arg(a.model, ModelFetch::PullIfMissing, a.offline);
  auto model = Model::load(a.model, load_options_with_progress());
  model->set_cache_type(parse_cache_type(a.cache_type));
  if (!model->file().find("tokenizer.ggml.tokens")) throw std::runtime_error(a.model + " carries no tokenizer");
  const Tokenizer tok = Tokenizer::from_gguf(model->file());
  std::string tmpl;
  if (!a.template_file.empty()) {
    tmpl = read_file(a.template_file);
  } else if (auto t = model->file().get_string("tokenizer.chat_template")) {
    tmpl = *t;
  } else {
    throw std::runtime_error(a.model + " has no chat template (GGUF key tokenizer.chat_template); pass --template FILE.jinja");
  }
  int n_ctx = a.ctx;
  if (model->config().n_ctx_train > 0 && n_ctx > model->config().n_ctx_train) n_ctx = model->config().n_ctx_train;
  ChatSession session(*model, tok, tmpl, n_ctx);
  session.set_prefix_reuse(!a.no_cache_reuse);

  ReplState st;
  st.model_path = a.model;
  st.verbose = a.verbose;
  st.show_thinking = !a.hide_thinking;
  st.settings.max_tokens = a.max_tokens;
  st.settings.system = a.system;
  if (a.reasoning != "auto") st.settings.thinking = a.reasoning == "on";
  SamplingParams& sp = st.settings.sampling;
  // DeepSeek's advice for R1: temperature 0.6, top-p 0.95; plain chat models get the usual 0.7 / 0.9.
  const bool r1 = session.reasoning_template();
  sp.temperature = a.temperature.value_or(r1 ? 0.6f : 0.7f);
  sp.top_p = a.top_p.value_or(r1 ? 0.95f : 0.9f);
  sp.top_k = a.top_k;
  sp.min_p = a.min_p;
  sp.seed = a.seed ? *a.seed : std::random_device{}();

  Runner runner(a, session, st);
  if (!prompt.empty()) {
    if (!runner.answer(prompt, false)) throw std::runtime_error(runner.too_long());
    return;
  }
  runner.repl();
}

}  // namespace

void register_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Chat with a model in the terminal (one answer when PROMPT is given)");
  cmd->alias("chat");
  static RunArgs a;
  cmd->add_option("args", a.positional, "MODEL [PROMPT] (or just PROMPT with -m)");
  cmd->add_option("-m,--model", a.model, "GGUF model file, or owner/repo[:TAG] (pulled when not in the cache)");
  cmd->add_flag("--offline", a.offline, "never pull: a model reference must be in the cache");
  cmd->add_option("--template", a.template_file, "chat template file (.jinja), instead of the model's");
  cmd->add_option("--system", a.system, "system prompt");
  cmd->add_option("-n,--max-tokens", a.max_tokens, "tokens per answer")->capture_default_str();
  cmd->add_option("-c,--ctx-size", a.ctx, "context size in tokens")->capture_default_str();
  cmd->add_option("--temp", a.temperature, "temperature (default 0.6 for R1-style templates, else 0.7; 0 = greedy)");
  cmd->add_option("--top-p", a.top_p, "top-p (default 0.95 for R1-style templates, else 0.9; 1 = off)");
  cmd->add_option("--top-k", a.top_k, "top-k (0 = off)");
  cmd->add_option("--min-p", a.min_p, "min-p (0 = off)");
  cmd->add_option("--seed", a.seed, "random seed (default: random)");
  cmd->add_option("--cache-type", a.cache_type, "KV cache type: f16, bf16, q8_0, f32");
  add_threads_option(cmd, a.threads);
  cmd->add_option("--color", a.color, "colour reasoning: auto (when stdout is a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->add_flag("--hide-thinking", a.hide_thinking, "do not print the reasoning of R1-style models");
  cmd->add_option("--reasoning", a.reasoning, "thinking for templates with a switch (DeepSeek-V3.1+): on, off, auto (the template's default)")
      ->check(CLI::IsMember({"on", "off", "auto"}));
  cmd->add_flag("--no-cache-reuse", a.no_cache_reuse, "evaluate the whole conversation every turn (for checking)");
  cmd->add_flag("--verbose", a.verbose, "print prompt and generation speed after each answer (stderr)");
  cmd->callback([] { run_chat(a); });
}

}  // namespace qs::cli
