#include "cli/cli_util.h"

#include "model/kv_cache.h"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include "hub/model_cache.h"
#include "hub/model_ref.h"
#include "hub/pull.h"
#include "kernels/thread_pool.h"
#include "util/progress.h"

#include <chrono>
#include <memory>

#include <unistd.h>

namespace qs::cli {

std::vector<int32_t> parse_token_list(const std::string& s) {
  std::vector<int32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ',' || s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && s[j] != ',' && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') ++j;
    const std::string item = s.substr(i, j - i);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (errno != 0 || end == item.c_str() || *end != '\0' || v < 0 || v > INT32_MAX)
      throw std::invalid_argument("bad token id '" + item + "' in --tokens");
    out.push_back(static_cast<int32_t>(v));
    i = j;
  }
  if (out.empty()) throw std::invalid_argument("--tokens is empty");
  return out;
}

GgmlType parse_cache_type(const std::string& s) { return kv_cache_type_from_name(s); }

CLI::Option* add_model_option(CLI::App* cmd, std::string& path, const std::string& help) {
  return cmd->add_option("model,-m,--model", path, help + ", or a pulled model: owner/repo[:TAG]")->required();
}

LoadOptions load_options_with_progress() {
  struct State {
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Progress> bar;
    size_t shown = 0;
  };
  auto st = std::make_shared<State>();
  LoadOptions o;
  o.on_progress = [st](size_t done, size_t total) {
    if (!st->bar) {
      if (std::chrono::steady_clock::now() - st->t0 < std::chrono::seconds(1)) return;
      st->bar = std::make_unique<Progress>("load", total, done, isatty(STDERR_FILENO));
    } else {
      st->bar->add(done - st->shown);
    }
    st->shown = done;
    if (done >= total) st->bar->finish();
  };
  return o;
}

namespace {

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string(v) != "0";
}

}  // namespace

std::string resolve_model_arg(const std::string& arg, ModelFetch fetch, bool offline) {
  if (!hub::looks_like_model_ref(arg)) return arg;
  const hub::ModelRef ref = *hub::parse_model_ref(arg);
  if (auto path = hub::find_cached(ref)) return *path;
  offline = offline || env_on("HF_HUB_OFFLINE") || env_on("QIUSUO_OFFLINE");
  if (fetch == ModelFetch::CacheOnly || offline)
    throw std::runtime_error("no file " + arg + ", and " + ref.str() + " is not in the model cache (" + hub::models_root() +
                             ")" + (offline ? " and pulling is off (offline)" : "") + ": get it with `qiusuo pull " + ref.str() + "`");
  hub::PullOptions o;
  o.progress_tty = isatty(STDERR_FILENO);
  std::fprintf(stderr, "pulling %s\n", ref.str().c_str());
  return hub::pull_model(ref, o).path;
}

CLI::Option* add_threads_option(CLI::App* cmd, int& threads) {
  return cmd->add_option("-t,--threads", threads, "threads (default: all cores)")->check(CLI::Range(0, 4096));
}

void apply_threads(int n) {
  if (n < 0) throw std::invalid_argument("--threads must be >= 0");
  if (n > 0) set_global_threads(n);
}

}  // namespace qs::cli
