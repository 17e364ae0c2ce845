#include "engine/metrics.h"

#include <cmath>
#include <cstdio>

namespace qs {

namespace {

std::string num(double x) {
  if (std::isinf(x)) return x > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

void header(std::string& out, const std::string& name, const char* type, const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void gauge(std::string& out, const std::string& name, double v, const std::string& help) {
  header(out, name, "gauge", help);
  out += name + " " + num(v) + "\n";
}

void counter(std::string& out, const std::string& name, double v, const std::string& help) {
  header(out, name, "counter", help);
  out += name + " " + num(v) + "\n";
}

std::vector<double> exp_buckets(double start, double factor, int n) {
  std::vector<double> b;
  for (int i = 0; i < n; ++i, start *= factor) b.push_back(start);
  return b;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double x) {
  if (!std::isfinite(x)) return;
  std::lock_guard<std::mutex> lk(mu_);
  size_t i = 0;
  while (i < bounds_.size() && x > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += x;
  ++n_;
}

uint64_t Histogram::count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return n_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  std::lock_guard<std::mutex> lk(mu_);
  header(out, name, "histogram", help);
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  cum += counts_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
  out += name + "_sum " + num(sum_) + "\n";
  out += name + "_count " + std::to_string(n_) + "\n";
}

void LabeledCounter::inc(const std::string& label_value, uint64_t by) {
  std::lock_guard<std::mutex> lk(mu_);
  v_[label_value] += by;
}

uint64_t LabeledCounter::get(const std::string& label_value) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = v_.find(label_value);
  return it == v_.end() ? 0 : it->second;
}

void LabeledCounter::render(std::string& out, const std::string& name, const std::string& label, const std::string& help) const {
  std::lock_guard<std::mutex> lk(mu_);
  header(out, name, "counter", help);
  for (const auto& [k, n] : v_) out += name + "{" + label + "=\"" + k + "\"} " + std::to_string(n) + "\n";
}

Metrics::Metrics()
    : ttft({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
            160.0, 640.0, 2560.0}),
      itl({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}),
      queue_time({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
                  960.0, 1920.0, 7680.0}),
      e2e({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0,
           1920.0, 7680.0}),
      prompt_len(exp_buckets(1, 2, 18)),
      generation_len(exp_buckets(1, 2, 16)) {}

std::string Metrics::render() const {
  std::string out;
  gauge(out, "qiusuo_requests_running", static_cast<double>(requests_running.load()), "Requests in a slot (prefill or decode).");
  gauge(out, "qiusuo_requests_waiting", static_cast<double>(requests_waiting.load()), "Requests waiting for a slot.");
  gauge(out, "qiusuo_slots_used", static_cast<double>(requests_running.load()), "Slots serving a request.");
  gauge(out, "qiusuo_slots_total", static_cast<double>(slots_total.load()), "Slots (--parallel).");
  const double cap = static_cast<double>(kv_tokens_capacity.load());
  gauge(out, "qiusuo_kv_cache_usage_perc", cap > 0 ? static_cast<double>(kv_tokens_used.load()) / cap : 0.0,
        "Fraction of the slots' KV cache positions holding tokens of running requests.");
  gauge(out, "qiusuo_prefix_cache_bytes", static_cast<double>(prefix_cache_bytes.load()), "Bytes held by the prefix cache store.");
  gauge(out, "qiusuo_prefix_cache_entries", static_cast<double>(prefix_cache_entries.load()), "Entries in the prefix cache store.");
  counter(out, "qiusuo_prompt_tokens_total", static_cast<double>(prompt_tokens.load()), "Prompt tokens of admitted requests.");
  counter(out, "qiusuo_generation_tokens_total", static_cast<double>(generation_tokens.load()), "Generated tokens.");
  counter(out, "qiusuo_prefix_cache_queries_total", static_cast<double>(prefix_cache_queries.load()),
          "Prompt tokens looked up in the prefix cache.");
  counter(out, "qiusuo_prefix_cache_hits_total", static_cast<double>(prefix_cache_hits.load()),
          "Prompt tokens whose KV came from the prefix cache.");
  counter(out, "qiusuo_forward_batches_total", static_cast<double>(forward_batches.load()), "Batched forward passes.");
  counter(out, "qiusuo_forward_tokens_total", static_cast<double>(forward_tokens.load()), "Tokens evaluated in forward passes.");
  gauge(out, "qiusuo_http_connections", static_cast<double>(http_connections.load()), "Open connections holding a server thread.");
  counter(out, "qiusuo_http_read_timeouts_total", static_cast<double>(http_read_timeouts.load()),
          "Connections closed because a request's headers and body did not arrive within --read-timeout.");
  rejected.render(out, "qiusuo_requests_rejected_total", "reason", "Requests refused at admission (429 queue_full, 503 draining/loading).");
  finished.render(out, "qiusuo_request_success_total", "finished_reason", "Requests that finished generating.");
  aborted.render(out, "qiusuo_requests_aborted_total", "reason", "Requests ended early.");
  http_responses.render(out, "qiusuo_http_responses_total", "status", "HTTP responses by status code.");
  ttft.render(out, "qiusuo_time_to_first_token_seconds", "Time from arrival to the first generated token.");
  itl.render(out, "qiusuo_inter_token_latency_seconds", "Time between consecutive generated tokens.");
  queue_time.render(out, "qiusuo_request_queue_time_seconds", "Time spent waiting for a slot.");
  e2e.render(out, "qiusuo_e2e_request_latency_seconds", "Time from arrival to the last token.");
  prompt_len.render(out, "qiusuo_request_prompt_tokens", "Prompt length of requests.");
  generation_len.render(out, "qiusuo_request_generation_tokens", "Generated tokens per request.");
  return out;
}

}  // namespace qs
