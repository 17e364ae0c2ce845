// qiusuo bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--json]
// Like llama-bench: prompt processing (pp) and generation (tg) in tokens/s, mean ± sd over reps,
// plus the fraction of the memory-bandwidth roofline reached in generation, measured on the
// same threads with a STREAM triad.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "engine/sampler.h"
#include "kernels/bandwidth.h"
#include "kernels/cpu_features.h"
#include "kernels/thread_pool.h"
#include "model/model.h"

namespace qs::cli {

namespace {

struct BenchArgs {
  std::string model, cache_type = "f16";
  int n_prompt = 512, n_gen = 128, depth = 0, threads = 0, reps = 3;
  bool json = false;
};

struct Stat {
  double mean = 0, sd = 0;
};

Stat stats(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A sequence with room for depth + n tokens whose first `depth` positions are already filled (a
// random prompt, prefilled untimed): tests at depth measure speed at that context length.
std::unique_ptr<Sequence> sequence_at_depth(const Model& m, int depth, int n, std::mt19937& rng) {
  auto seq = m.new_sequence(depth + n);
  if (depth > 0) {
    std::uniform_int_distribution<int32_t> tok(0, m.n_vocab() - 1);
    std::vector<int32_t> ids(depth);
    for (auto& t : ids) t = tok(rng);
    std::vector<float> logits(static_cast<size_t>(m.n_vocab()));
    m.forward(*seq, ids.data(), depth, logits.data(), false);
  }
  return seq;
}

// Prompt processing: n tokens as one batch after `depth` tokens of context.
double run_pp(const Model& m, int n, int depth, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> tok(0, m.n_vocab() - 1);
  std::vector<int32_t> ids(n);
  for (auto& t : ids) t = tok(rng);
  auto seq = sequence_at_depth(m, depth, n, rng);
  std::vector<float> logits(static_cast<size_t>(m.n_vocab()));
  const auto t0 = std::chrono::steady_clock::now();
  m.forward(*seq, ids.data(), n, logits.data(), false);
  return n / seconds_since(t0);
}

// Generation: n tokens one at a time after `depth` tokens of context, each fed back greedily.
double run_tg(const Model& m, int n, int depth, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> tok(0, m.n_vocab() - 1);
  auto seq = sequence_at_depth(m, depth, n, rng);
  std::vector<float> logits(static_cast<size_t>(m.n_vocab()));
  int32_t t = tok(rng);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    m.forward(*seq, &t, 1, logits.data(), false);
    t = argmax(logits.data(), static_cast<int>(logits.size()));
  }
  return n / seconds_since(t0);
}

void run_bench(const BenchArgs& a) {
  apply_threads(a.threads);
  if (a.n_prompt < 0 || a.n_gen < 0 || a.depth < 0 || a.reps < 1)
    throw std::invalid_argument("-p, -n, -d must be >= 0 and -r >= 1");
  auto m = Model::load(resolve_model_arg(a.model), load_options_with_progress());
  m->set_cache_type(parse_cache_type(a.cache_type));
  std::mt19937 rng(1234);
  const int threads = global_pool().size();

  // Warm up (as llama-bench does, with the test's own prompt size): pages the weights in, settles
  // the threads, and sizes the heap for a batch that large — a shorter warm-up left the first
  // timed prompt paying for fresh pages (its pp512 ~10% below the others).
  run_pp(*m, a.n_prompt > 0 ? a.n_prompt : 8, 0, rng);
  run_tg(*m, 4, 0, rng);

  std::vector<double> pp, tg;
  for (int r = 0; r < a.reps; ++r) {
    if (a.n_prompt > 0) pp.push_back(run_pp(*m, a.n_prompt, a.depth, rng));
    if (a.n_gen > 0) tg.push_back(run_tg(*m, a.n_gen, a.depth, rng));
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);  // before the bandwidth arrays inflate it
  const double peak_rss_mib = ru.ru_maxrss / 1024.0;
  const BandwidthResult bw = measure_bandwidth();
  const double bytes = static_cast<double>(m->active_bytes_per_token());
  const Stat spp = pp.empty() ? Stat{} : stats(pp), stg = tg.empty() ? Stat{} : stats(tg);
  const double roofline = stg.mean * bytes / (bw.roofline_gbps() * 1e9);
  const std::string pp_key = "pp" + std::to_string(a.n_prompt), tg_key = "tg" + std::to_string(a.n_gen);

  if (a.json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["cpu"] = cpu_name();
    j["simd"] = simd_summary();
    j["threads"] = threads;
    j["reps"] = a.reps;
    j["depth"] = a.depth;
    if (!pp.empty()) j[pp_key] = spp.mean, j[pp_key + "_sd"] = spp.sd;
    if (!tg.empty()) j[tg_key] = stg.mean, j[tg_key + "_sd"] = stg.sd;
    j["roofline_fraction"] = tg.empty() ? 0.0 : roofline;
    j["bandwidth_gbps"] = bw.roofline_gbps();
    j["triad_bandwidth_gbps"] = bw.triad_gbps;
    j["read_bandwidth_gbps"] = bw.read_gbps;
    j["bandwidth_buffer_mib"] = static_cast<double>(bw.buffer_bytes) / (1 << 20);
    j["bytes_per_token"] = static_cast<uint64_t>(bytes);
    j["kv_cache_type"] = std::string(traits(m->cache_type()).name);
    j["kv_bytes_per_token"] = m->new_sequence(1)->cache.bytes_per_token();
    j["peak_rss_mib"] = peak_rss_mib;
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model:      %s\n", a.model.c_str());
  std::printf("cpu:        %s (%s), %d threads\n", cpu_name().c_str(), simd_summary(), threads);
  std::printf("bandwidth:  %.1f GB/s triad, %.1f GB/s read (over %.0f MiB)\n", bw.triad_gbps, bw.read_gbps,
              static_cast<double>(bw.buffer_bytes) / (1 << 20));
  // The table's columns fit their longest cell; one repetition has no spread to show.
  const std::string at = a.depth > 0 ? " @ d" + std::to_string(a.depth) : "";  // llama-bench's label for depth
  std::vector<std::pair<std::string, std::string>> rows;
  auto cell = [&](const Stat& st) {
    char buf[64];
    if (a.reps > 1) std::snprintf(buf, sizeof buf, "%.2f ± %.2f", st.mean, st.sd);
    else std::snprintf(buf, sizeof buf, "%.2f", st.mean);
    return std::string(buf);
  };
  if (!pp.empty()) rows.emplace_back(pp_key + at, cell(spp));
  if (!tg.empty()) rows.emplace_back(tg_key + at, cell(stg));
  size_t w0 = 4, w1 = 3;
  auto width = [](const std::string& s) { size_t n = 0; for (unsigned char c : s) n += (c & 0xC0) != 0x80; return n; };
  for (const auto& [k, v] : rows) w0 = std::max(w0, width(k)), w1 = std::max(w1, width(v));
  auto line = [&](const std::string& k, const std::string& v) {
    std::printf("| %s%s | %s%s |\n", k.c_str(), std::string(w0 - width(k), ' ').c_str(), std::string(w1 - width(v), ' ').c_str(), v.c_str());
  };
  line("test", "t/s");
  std::printf("|%s|%s|\n", std::string(w0 + 2, '-').c_str(), std::string(w1 + 2, '-').c_str());
  for (const auto& [k, v] : rows) line(k, v);
  if (!tg.empty())
    std::printf("roofline:   %.1f%% (%.1f MB of weights per token x %.2f t/s / %.1f GB/s)\n", 100 * roofline, bytes / 1e6,
                stg.mean, bw.roofline_gbps());
  std::printf("peak rss:   %.0f MiB\n", peak_rss_mib);
}

}  // namespace

void register_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (llama-bench style)");
  static BenchArgs a;
  add_model_option(cmd, a.model);
  cmd->add_option("-p,--n-prompt", a.n_prompt, "prompt tokens (pp test; 0 skips)");
  cmd->add_option("-n,--n-gen", a.n_gen, "generated tokens (tg test; 0 skips)");
  cmd->add_option("-d,--depth", a.depth, "tokens already in the context before each test (prefilled, not timed)");
  add_threads_option(cmd, a.threads);
  cmd->add_option("-r,--repetitions", a.reps, "repetitions of each test");
  cmd->add_option("--cache-type", a.cache_type, "KV cache type: f16, bf16, q8_0, f32");
  cmd->add_flag("--json", a.json, "print one JSON object");
  cmd->callback([] { run_bench(a); });
}

}  // namespace qs::cli
