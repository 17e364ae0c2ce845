// Loopback serving benchmark: starts `qiusuo serve` in process on an ephemeral 127.0.0.1 port and
// drives it with C concurrent streaming chat clients (a fixed number of requests per level, as
// vLLM's `bench serve` recommends), with and without a shared prompt prefix. Client-side metrics:
// TTFT, TPOT = (e2e - TTFT) / (tokens - 1), ITL percentiles, request and output-token throughput.
//
//   bench_server MODEL.gguf [--concurrency 1,4,8,16] [--requests-per-client 2] [--max-tokens 32]
//                           [--prefix-tokens 256] [--parallel 16] [--threads T]
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/thread_pool.h"
#include "model/model.h"
#include "server/http_server.h"

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

namespace {

struct Sample {
  double ttft = 0, e2e = 0;
  int tokens = 0;
  std::vector<double> itl;
  bool ok = false;
};

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

Sample one_request(int port, const std::string& system, const std::string& user, int max_tokens) {
  Sample s;
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  json body = {{"messages", json::array()}, {"max_tokens", max_tokens}, {"temperature", 0}, {"ignore_eos", true}, {"stream", true}};
  if (!system.empty()) body["messages"].push_back({{"role", "system"}, {"content", system}});
  body["messages"].push_back({{"role", "user"}, {"content", user}});
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = body.dump();
  std::string buf;
  const auto t0 = Clock::now();
  auto last = t0;
  bool first_seen = false;
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    buf.append(d, n);
    size_t i;
    while ((i = buf.find("\n\n")) != std::string::npos) {
      std::string ev = buf.substr(0, i);
      buf.erase(0, i + 2);
      if (ev.rfind("data: ", 0) != 0 || ev == "data: [DONE]") continue;
      const json j = json::parse(ev.substr(6), nullptr, false);
      if (!j.is_object() || !j.contains("choices") || j["choices"].empty()) continue;
      const json& delta = j["choices"][0]["delta"];
      if (delta.contains("role")) continue;  // the opening chunk carries no token
      const auto now = Clock::now();
      if (!first_seen) {
        s.ttft = std::chrono::duration<double>(now - t0).count();
        first_seen = true;
      } else {
        s.itl.push_back(std::chrono::duration<double>(now - last).count());
      }
      last = now;
      if (!j["choices"][0]["finish_reason"].is_null()) continue;
      ++s.tokens;
    }
    return true;
  };
  auto res = c.send(req);
  s.e2e = std::chrono::duration<double>(Clock::now() - t0).count();
  s.ok = res && res->status == 200 && first_seen;
  return s;
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    v.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr,
                 "usage: %s MODEL.gguf [--concurrency 1,4,8,16] [--requests-per-client 2] [--max-tokens 32] "
                 "[--prefix-tokens 256] [--parallel 16] [--threads T]\n",
                 argv[0]);
    return argc < 2 ? 0 : 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<int> levels = {1, 4, 8, 16};
  int per_client = 2, max_tokens = 32, prefix_tokens = 256, parallel = 16, threads = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--concurrency")) levels = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--requests-per-client")) per_client = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--max-tokens")) max_tokens = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--prefix-tokens")) prefix_tokens = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--parallel")) parallel = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  if (threads > 0) qs::set_global_threads(threads);
  qs::server::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.parallel = parallel;
  o.max_queue = 1024;
  o.ctx_size = std::max(1024, prefix_tokens * 2 + max_tokens + 128);
  o.quiet = true;
  qs::server::HttpServer srv(o);
  const int port = srv.start();
  srv.attach_model(qs::Model::load(argv[1]));

  // About prefix_tokens tokens of shared system prompt (≈ 1 token per short word).
  std::string shared;
  for (int i = 0; shared.size() < static_cast<size_t>(prefix_tokens) * 5; ++i) shared += "rule" + std::to_string(i) + " applies; ";

  std::printf("model %s, %d slots, %d output tokens per request, loopback 127.0.0.1:%d\n", argv[1], parallel, max_tokens, port);
  std::printf("%-7s %-11s %5s %8s %10s %9s %9s %9s %9s %9s\n", "clients", "prefix", "reqs", "req/s", "out tok/s", "ttft p50",
              "ttft p90", "tpot p50", "itl p50", "itl p99");
  int run = 0;
  for (bool with_prefix : {false, true}) {
    for (int c : levels) {
      if (c < 1) continue;
      const int n_req = c * per_client;
      std::vector<Sample> samples(static_cast<size_t>(n_req));
      std::vector<std::thread> ts;
      const auto t0 = Clock::now();
      for (int k = 0; k < c; ++k) {
        ts.emplace_back([&, k] {
          for (int j = 0; j < per_client; ++j) {
            const int id = k * per_client + j;
            // Distinct leading text per request unless the shared prefix is on.
            const std::string uniq = "run " + std::to_string(run) + " request " + std::to_string(id) + ": ";
            samples[static_cast<size_t>(id)] =
                with_prefix ? one_request(port, shared, uniq + "summarise the rules", max_tokens)
                            : one_request(port, "", uniq + shared + " summarise the rules", max_tokens);
          }
        });
      }
      for (auto& t : ts) t.join();
      ++run;
      const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
      std::vector<double> ttft, tpot, itl;
      int tokens = 0, ok = 0;
      for (const auto& s : samples) {
        if (!s.ok) continue;
        ++ok;
        ttft.push_back(s.ttft);
        tokens += s.tokens;
        if (s.tokens > 1) tpot.push_back((s.e2e - s.ttft) / (s.tokens - 1));
        itl.insert(itl.end(), s.itl.begin(), s.itl.end());
      }
      std::printf("%-7d %-11s %5d %8.2f %10.1f %8.1fms %8.1fms %8.1fms %8.1fms %8.1fms%s\n", c, with_prefix ? "shared" : "none", ok,
                  ok / wall, tokens / wall, pct(ttft, 50) * 1e3, pct(ttft, 90) * 1e3, pct(tpot, 50) * 1e3, pct(itl, 50) * 1e3,
                  pct(itl, 99) * 1e3, ok == n_req ? "" : "  (some requests failed)");
      std::fflush(stdout);
    }
  }
  const auto& m = srv.context().metrics;
  std::printf("prefix cache: %llu of %llu prompt tokens reused\n", static_cast<unsigned long long>(m.prefix_cache_hits.load()),
              static_cast<unsigned long long>(m.prefix_cache_queries.load()));
  srv.shutdown(std::chrono::milliseconds(1000));
  return 0;
}
