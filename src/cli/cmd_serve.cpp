// qiusuo serve -m MODEL [--host 127.0.0.1] [--port 8080] [--api-key K | --api-key-file F]
//              [--parallel N] [--ctx-size C] [--max-queue Q] [--cache-mib M] [--threads T]
//              [--max-body-bytes B] [--timeout S] [--read-timeout S] ...
// An OpenAI / DeepSeek-compatible HTTP server. Prints "listening on http://HOST:PORT" on stdout
// once bound (before the model has loaded: /health answers 503 "loading" until then).
// SIGINT/SIGTERM: stop taking requests, let running ones finish, exit; a second signal exits now.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "hub/model_ref.h"
#include "server/http_server.h"

#if defined(__SANITIZE_THREAD__)
#define QS_SERVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QS_SERVE_TSAN 1
#endif
#endif

#ifdef QS_SERVE_TSAN
// ThreadSanitizer builds only. Debian's libcpp-httplib is not instrumented, so the thread-safe
// initialization of its function-local statics is invisible to TSan: the first two chunked
// responses to end on different threads (the static end-of-chunks marker: written by one, sent
// by the other) are reported as a race. Accesses made by interceptors the library calls (its
// memcpy) are ignored; synchronization is still tracked and our own code is still checked.
extern "C" const char* __tsan_default_suppressions() { return "called_from_lib:libcpp-httplib.so\n"; }
#endif

namespace qs::cli {

namespace {

volatile std::sig_atomic_t g_signals = 0;

extern "C" void on_signal(int) {
  g_signals = g_signals + 1;
  if (g_signals >= 2) {
    static const char msg[] = "serve: second signal, exiting now\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(130);
  }
}

struct ServeArgs {
  server::ServerOptions o;
  std::string api_key, api_key_file;
  size_t cache_mib = 1024;
  int drain_s = 30;
  bool offline = false;
};

std::vector<std::string> read_keys(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read --api-key-file " + path);
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find_first_not_of(" \t\r\n");
    if (a == std::string::npos || line[a] == '#') continue;
    const size_t b = line.find_last_not_of(" \t\r\n");
    keys.push_back(line.substr(a, b - a + 1));
  }
  if (keys.empty()) throw std::invalid_argument("--api-key-file " + path + " holds no key");
  return keys;
}

void run_serve(ServeArgs& a) {
  apply_threads(a.o.threads);
  server::ServerOptions o = a.o;
  if (!o.quiet) o.on_load_progress = load_options_with_progress().on_progress;
  o.cache_mib = a.cache_mib;
  if (!a.api_key.empty()) {
    // An empty key in the list ("--api-key ," or QIUSUO_API_KEY=,) would otherwise turn authentication
    // off without a word.
    std::stringstream ss(a.api_key + ",");
    for (std::string k; std::getline(ss, k, ',');) {
      const size_t b = k.find_first_not_of(" \t"), e = k.find_last_not_of(" \t");
      if (b == std::string::npos)
        throw std::invalid_argument("--api-key (or QIUSUO_API_KEY) holds an empty key: every comma-separated key must be non-empty");
      o.api_keys.push_back(k.substr(b, e - b + 1));
    }
  }
  if (!a.api_key_file.empty()) {
    auto keys = read_keys(a.api_key_file);
    o.api_keys.insert(o.api_keys.end(), keys.begin(), keys.end());
  }
  // Files that cannot be read are reported before the server says it listens.
  if (o.ctx_size < 0) throw std::invalid_argument("--ctx-size must be >= 0 (0: the model's context, up to 4096)");
  if (hub::looks_like_model_ref(o.model_path)) {
    if (o.alias.empty()) o.alias = o.model_path;  // clients see the name they would type
    o.model_path = resolve_model_arg(o.model_path, ModelFetch::PullIfMissing, a.offline);
  }
  if (!std::ifstream(o.model_path)) throw std::invalid_argument("cannot open the model file " + o.model_path);
  if (!o.chat_template_file.empty() && !std::ifstream(o.chat_template_file))
    throw std::invalid_argument("cannot read --chat-template-file " + o.chat_template_file);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  server::HttpServer srv(o);
  const int port = srv.start();
  const bool v6 = o.host.find(':') != std::string::npos;
  std::printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", o.host.c_str(), v6 ? "]" : "", port);
  std::fflush(stdout);
  if (o.api_keys.empty() && !srv.context().loopback)
    std::fprintf(stderr, "serve: WARNING: listening on %s without an API key: anyone who can reach this address can use the model\n",
                 o.host.c_str());
  try {
    srv.load_model();
  } catch (const std::exception& e) {
    srv.shutdown(std::chrono::milliseconds(0));
    const std::string what = e.what();
    // Template problems are named as such; anything else is the model's.
    throw std::runtime_error(what.rfind("--chat-template-file", 0) == 0 ? what : "cannot load the model: " + what);
  }
  const auto& ctx = srv.context();
  if (!o.quiet)
    std::fprintf(stderr, "serve: model %s ready: %d slots x %d tokens, queue %d, prefix cache %zu MiB%s\n", ctx.model_id.c_str(),
                 ctx.opt.parallel, ctx.opt.ctx_size, ctx.opt.max_queue, ctx.opt.cache_mib,
                 ctx.tmpl ? "" : " (no chat template: /v1/chat/completions unavailable)");
  while (g_signals == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::fprintf(stderr, "serve: shutting down (draining for up to %d s; signal again to exit now)\n", a.drain_s);
  srv.shutdown(std::chrono::seconds(a.drain_s));
  std::fprintf(stderr, "serve: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI / DeepSeek-compatible HTTP API");
  static ServeArgs a;
  add_model_option(cmd, a.o.model_path);
  cmd->add_option("--host", a.o.host, "address to bind (loopback by default)")->capture_default_str();
  cmd->add_option("--port", a.o.port, "port (0: any free port)")->capture_default_str();
  cmd->add_option("--api-key", a.api_key, "require Authorization: Bearer KEY (comma-separated list allowed)")
      ->envname("QIUSUO_API_KEY");
  cmd->add_option("--api-key-file", a.api_key_file, "file with one API key per line");
  cmd->add_option("--parallel", a.o.parallel, "slots: requests generated at once")->capture_default_str();
  cmd->add_option("-c,--ctx-size", a.o.ctx_size, "context per slot in tokens (prompt + answer; 0: the model's, up to 4096)")
      ->capture_default_str();
  cmd->add_option("--max-queue", a.o.max_queue, "requests that may wait for a slot; more get 429")->capture_default_str()->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--cache-mib", a.cache_mib, "prefix cache memory beyond the slots, MiB (0: off)")->capture_default_str();
  add_threads_option(cmd, a.o.threads);
  cmd->add_option("--max-body-bytes", a.o.max_body_bytes, "largest request body (413 above)")->capture_default_str()->check(CLI::Range(size_t{1}, size_t{1} << 32));
  cmd->add_option("--timeout", a.o.timeout_s, "seconds a request may take from arrival to its last token")->capture_default_str()->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--read-timeout", a.o.request_read_timeout_s,
                  "seconds a client has to send a whole request (line, headers, body); slower ones are cut off")
      ->capture_default_str();
  cmd->add_option("--batch-tokens", a.o.step_tokens, "tokens per forward pass (decodes + prefill chunks)")->capture_default_str();
  cmd->add_option("--sse-ping", a.o.ping_interval_s, "seconds between SSE keep-alive comments")->capture_default_str()->check(CLI::Range(1, 3600));
  cmd->add_option("--http-threads", a.o.http_threads, "most connection threads (0: parallel + max-queue + 16)")->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--alias", a.o.alias, "model id to report (default: the file name)");
  cmd->add_option("--chat-template-file", a.o.chat_template_file, "Jinja chat template to use instead of the GGUF's");
  cmd->add_option("--reasoning", a.o.reasoning,
                  "thinking for templates with a switch (DeepSeek-V3.1+) when a request does not choose: on, off, auto (the template's default)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off", "auto"}));
  cmd->add_option("--cache-type", a.o.cache_type, "KV cache type: f16, bf16, q8_0, f32")->capture_default_str();
  cmd->add_option("--drain-timeout", a.drain_s, "seconds to let running requests finish on shutdown")->capture_default_str()->check(CLI::Range(0, 86400));
  cmd->add_flag("-q,--quiet", a.o.quiet, "do not log requests");
  cmd->add_flag("--offline", a.offline, "never pull: a model reference must be in the cache");
  cmd->callback([] { run_serve(a); });
}

}  // namespace qs::cli
