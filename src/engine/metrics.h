// Server metrics in the Prometheus text format, named after vLLM's (qiusuo_ prefix): gauges for
// running/waiting requests and KV usage, counters for tokens, prefix-cache queries/hits and
// rejections, histograms for time to first token, inter-token latency, queue time and e2e latency.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace qs {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double x);
  void render(std::string& out, const std::string& name, const std::string& help) const;
  uint64_t count() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // one per bound, + the +Inf bucket
  double sum_ = 0;
  uint64_t n_ = 0;
};

// A counter with one label (e.g. finished_reason).
class LabeledCounter {
 public:
  void inc(const std::string& label_value, uint64_t by = 1);
  uint64_t get(const std::string& label_value) const;
  void render(std::string& out, const std::string& name, const std::string& label, const std::string& help) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> v_;
};

struct Metrics {
  Metrics();
  std::atomic<int64_t> requests_running{0};
  std::atomic<int64_t> requests_waiting{0};
  std::atomic<int64_t> slots_total{0};
  std::atomic<int64_t> kv_tokens_used{0};      // positions filled in the slots' caches
  std::atomic<int64_t> kv_tokens_capacity{0};
  std::atomic<int64_t> prefix_cache_bytes{0};
  std::atomic<int64_t> prefix_cache_entries{0};
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> generation_tokens{0};
  std::atomic<uint64_t> prefix_cache_queries{0};  // prompt tokens looked up
  std::atomic<uint64_t> prefix_cache_hits{0};     // of those, reused from cache
  std::atomic<uint64_t> forward_batches{0};
  std::atomic<uint64_t> forward_tokens{0};
  std::atomic<int64_t> http_connections{0};     // connections holding a server thread
  std::atomic<uint64_t> http_read_timeouts{0};  // connections closed by the request read deadline
  LabeledCounter rejected;          // reason: queue_full, draining, loading
  LabeledCounter finished;          // finished_reason: stop, length, ...
  LabeledCounter aborted;           // reason: client_disconnected, timeout, error, shutdown
  LabeledCounter http_responses;    // status code
  Histogram ttft, itl, queue_time, e2e, prompt_len, generation_len;

  std::string render() const;
};

}  // namespace qs
