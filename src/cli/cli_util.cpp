#include "cli/cli_util.h"

#include "model/kv_cache.h"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include "kernels/thread_pool.h"

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
  return cmd->add_option("model,-m,--model", path, help)->required();
}

CLI::Option* add_threads_option(CLI::App* cmd, int& threads) {
  return cmd->add_option("-t,--threads", threads, "threads (default: all cores)")->check(CLI::Range(0, 4096));
}

void apply_threads(int n) {
  if (n < 0) throw std::invalid_argument("--threads must be >= 0");
  if (n > 0) set_global_threads(n);
}

}  // namespace qs::cli
