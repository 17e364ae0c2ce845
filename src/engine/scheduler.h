// Continuous batching over a fixed set of slots. One engine thread owns the model: each step it
// admits waiting requests into free slots (reusing cached prefixes), then runs ONE forward_batch
// holding every decoding slot's next token plus prefill chunks of admitted prompts (a per-step
// token budget, decode first), samples, and hands text back to the HTTP threads through each
// request's event queue. Waiting is bounded (--max-queue): submit() refuses instead of queueing.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/generator.h"
#include "engine/metrics.h"
#include "engine/prefix_cache.h"

namespace qs {
class Model;
class Tokenizer;
struct Sequence;

using Clock = std::chrono::steady_clock;

struct GenEvent {
  enum class Kind { Delta, Done, Error };
  Kind kind = Kind::Delta;
  std::string text;          // Delta / Done: text safe to show (Done: what the decoder held back)
  int32_t token = -1;        // Delta: the generated token
  bool has_logprob = false;
  TokenLogprob lp;
  // Done
  std::string finish_reason;  // stop | length
  int prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  // Error
  int status = 500;
  std::string message, code;
};

// One generation: inputs set before submit(), events read by the HTTP thread.
class GenRequest {
 public:
  std::vector<int32_t> prompt;
  GenerationParams params;
  int max_tokens = 1;  // resolved: >= 1 and prompt + max_tokens <= context
  Clock::time_point arrival = Clock::now();
  Clock::time_point deadline = Clock::time_point::max();
  std::atomic<bool> cancelled{false};

  void push(GenEvent e);
  // Moves the queued events into out; waits up to timeout when there are none. Returns whether
  // anything was moved.
  bool wait_events(std::vector<GenEvent>& out, std::chrono::milliseconds timeout);
  bool finished() const { return finished_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GenEvent> events_;
  std::atomic<bool> finished_{false};
};

struct SchedulerOptions {
  int parallel = 4;
  int n_ctx = 4096;          // per slot
  int max_queue = 64;
  size_t cache_bytes = 256u << 20;  // prefix cache store
  int step_tokens = 512;     // tokens per forward pass (decodes first, then prefill chunks)
  // Shortest prefix worth keeping in the store: short prompts (a system line and a question) must keep
  // their hits under mixed traffic as long ones do; the store's LRU byte budget bounds the rest.
  size_t min_prefix = 4;
};

class Scheduler {
 public:
  Scheduler(const Model& model, const Tokenizer& tok, SchedulerOptions opt, Metrics& metrics);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class SubmitResult { Accepted, QueueFull, ShuttingDown };
  SubmitResult submit(const std::shared_ptr<GenRequest>& r);
  // Asks the engine to drop the request (client gone); it frees the slot at the next step.
  void cancel(const std::shared_ptr<GenRequest>& r);

  // Refuse new requests from now on; in-flight ones continue.
  void begin_drain();
  bool draining() const { return draining_.load(); }
  // Waits until nothing runs or waits, up to timeout; returns whether idle.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Ends the engine thread; requests still in flight get an error event.
  void stop();

  int running() const;
  int waiting() const;
  const SchedulerOptions& options() const { return opt_; }

 private:
  struct Slot;
  void loop();
  void admit(Slot& s, std::shared_ptr<GenRequest> r);
  void step();
  void handle_logits(Slot& s, float* row);
  void finish(Slot& s, const std::string& reason);
  void fail(Slot& s, int status, const std::string& message, const std::string& code, const char* metric_reason);
  void release(Slot& s);
  void update_kv_usage();

  const Model& model_;
  const Tokenizer& tok_;
  SchedulerOptions opt_;
  Metrics& metrics_;
  PrefixCache store_;
  std::vector<std::unique_ptr<Slot>> slots_;
  TokenRules rules_;
  uint64_t use_clock_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::shared_ptr<GenRequest>> waiting_;
  int n_active_ = 0;  // slots holding a request (under mu_)
  bool stop_ = false;
  bool wake_ = false;
  std::atomic<bool> draining_{false};
  std::thread thread_;
};

}  // namespace qs
