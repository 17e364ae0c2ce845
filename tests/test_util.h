// Shared helpers for tests: fixture paths and golden files.
#pragma once
#include <cmath>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <cstdio>

#include <nlohmann/json.hpp>

namespace qs::test {

inline std::string fixtures_dir() { return QIUSUO_FIXTURES_DIR; }
inline std::string model_path(const std::string& name) { return fixtures_dir() + "/models/" + name; }

struct Golden {
  std::vector<int32_t> prompt, greedy;
  std::vector<float> margins;
  std::vector<float> logits;  // [n_prompt][n_vocab]
  int n_vocab = 0;
  double rms_tol = 0;
};

inline std::vector<float> read_f32_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path);
  const auto size = static_cast<size_t>(in.tellg());
  std::vector<float> v(size / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

inline Golden load_golden(const std::string& model_file) {
  const std::string base = model_file.substr(0, model_file.size() - 5);  // strip ".gguf"
  std::ifstream in(model_path(base + ".golden.json"));
  if (!in) throw std::runtime_error("cannot open golden for " + model_file);
  const auto j = nlohmann::json::parse(in);
  Golden g;
  g.prompt = j.at("prompt_tokens").get<std::vector<int32_t>>();
  g.greedy = j.at("greedy_tokens").get<std::vector<int32_t>>();
  g.margins = j.at("greedy_margins").get<std::vector<float>>();
  g.n_vocab = j.at("n_vocab").get<int>();
  g.rms_tol = j.at("rms_tol").get<double>();
  g.logits = read_f32_file(model_path(j.at("logits_file").get<std::string>()));
  if (g.logits.size() != g.prompt.size() * static_cast<size_t>(g.n_vocab))
    throw std::runtime_error("golden logits have the wrong size for " + model_file);
  return g;
}

inline double rms_diff(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return std::sqrt(s / static_cast<double>(n));
}

// Runs a shell command line; returns its exit status (-1 if it did not exit normally) and stdout.
struct ShellResult {
  int status = -1;
  std::string out;
};
inline ShellResult run_shell(const std::string& cmd) {
  ShellResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

}  // namespace qs::test
