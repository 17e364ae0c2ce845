#include "engine/scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace qs {

namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void GenRequest::push(GenEvent e) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (e.kind != GenEvent::Kind::Delta) finished_ = true;
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

bool GenRequest::wait_events(std::vector<GenEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  if (events_.empty()) cv_.wait_for(lk, timeout, [&] { return !events_.empty(); });
  if (events_.empty()) return false;
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return true;
}

struct Scheduler::Slot {
  int id = 0;
  std::unique_ptr<Sequence> seq;
  std::vector<int32_t> cached;  // tokens whose rows seq holds, positions [0, cached.size())
  std::shared_ptr<GenRequest> req;
  size_t prompt_done = 0;
  int chunk = 0;                // prompt tokens in the current batch
  int32_t pending = -1;         // sampled, to be evaluated next step
  std::unique_ptr<Generator> gen;
  int reused = 0;
  bool got_first = false;
  Clock::time_point t_admit, t_last;
  uint64_t last_used = 0;
  uint64_t admit_order = 0;
};

Scheduler::Scheduler(const Model& model, const Tokenizer& tok, SchedulerOptions opt, Metrics& metrics)
    : model_(model),
      tok_(tok),
      opt_(opt),
      metrics_(metrics),
      store_(model.config(), model.cache_type(), opt.cache_bytes, opt.min_prefix),
      rules_(tok) {
  if (opt_.parallel < 1) throw std::invalid_argument("--parallel must be at least 1");
  if (opt_.n_ctx < 8) throw std::invalid_argument("--ctx-size must be at least 8");
  if (opt_.max_queue < 0) throw std::invalid_argument("--max-queue must be >= 0");
  opt_.step_tokens = std::max(opt_.step_tokens, opt_.parallel + 1);
  for (int i = 0; i < opt_.parallel; ++i) {
    auto s = std::make_unique<Slot>();
    s->id = i;
    s->seq = model.new_sequence(opt_.n_ctx);
    slots_.push_back(std::move(s));
  }
  metrics_.slots_total = opt_.parallel;
  metrics_.kv_tokens_capacity = static_cast<int64_t>(opt_.parallel) * opt_.n_ctx;
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

Scheduler::SubmitResult Scheduler::submit(const std::shared_ptr<GenRequest>& r) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ || draining_) return SubmitResult::ShuttingDown;
    if (static_cast<int>(waiting_.size()) + n_active_ >= opt_.parallel + opt_.max_queue) return SubmitResult::QueueFull;
    waiting_.push_back(r);
    metrics_.requests_waiting = static_cast<int64_t>(waiting_.size());
  }
  cv_.notify_all();
  return SubmitResult::Accepted;
}

void Scheduler::cancel(const std::shared_ptr<GenRequest>& r) {
  if (!r || r->finished()) return;
  r->cancelled = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Scheduler::begin_drain() {
  draining_ = true;
  cv_.notify_all();
}

bool Scheduler::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  return idle_cv_.wait_for(lk, timeout, [&] { return n_active_ == 0 && waiting_.empty(); });
}

int Scheduler::running() const {
  std::lock_guard<std::mutex> lk(mu_);
  return n_active_;
}

int Scheduler::waiting() const {
  std::lock_guard<std::mutex> lk(mu_);
  return static_cast<int>(waiting_.size());
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The engine thread is gone: fail what is left.
  for (auto& s : slots_)
    if (s->req) fail(*s, 503, "the server is shutting down", "server_shutdown", "shutdown");
  std::deque<std::shared_ptr<GenRequest>> left;
  {
    std::lock_guard<std::mutex> lk(mu_);
    left.swap(waiting_);
    metrics_.requests_waiting = 0;
  }
  for (auto& r : left) {
    GenEvent e;
    e.kind = GenEvent::Kind::Error;
    e.status = 503;
    e.message = "the server is shutting down";
    e.code = "server_shutdown";
    r->push(std::move(e));
    metrics_.aborted.inc("shutdown");
  }
  idle_cv_.notify_all();
}

void Scheduler::loop() {
  uint64_t admit_counter = 0;
  for (;;) {
    std::vector<std::shared_ptr<GenRequest>> admitted;
    std::vector<std::pair<std::shared_ptr<GenRequest>, int>> dropped;  // 0: cancelled, 1: timed out
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || wake_ || !waiting_.empty() || n_active_ > 0; });
      wake_ = false;
      if (stop_) return;
      const auto now = Clock::now();
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if ((*it)->cancelled) dropped.emplace_back(*it, 0), it = waiting_.erase(it);
        else if (now > (*it)->deadline) dropped.emplace_back(*it, 1), it = waiting_.erase(it);
        else ++it;
      }
      while (n_active_ < opt_.parallel && !waiting_.empty()) {
        admitted.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
        ++n_active_;
      }
      metrics_.requests_waiting = static_cast<int64_t>(waiting_.size());
      metrics_.requests_running = n_active_;
      if (n_active_ == 0 && waiting_.empty()) idle_cv_.notify_all();
    }
    for (auto& [r, why] : dropped) {
      GenEvent e;
      e.kind = GenEvent::Kind::Error;
      e.status = why ? 503 : 499;
      e.message = why ? "the request timed out while waiting for a slot" : "the client closed the connection";
      e.code = why ? "timeout" : "client_closed";
      r->push(std::move(e));
      metrics_.aborted.inc(why ? "timeout" : "client_disconnected");
    }
    try {
      for (auto& r : admitted) {
        // The free slot sharing the longest prefix with the prompt; ties go to the least recently used.
        Slot* best = nullptr;
        size_t best_len = 0;
        for (auto& s : slots_) {
          if (s->req) continue;
          const size_t l = common_prefix(s->cached, r->prompt);
          if (!best || l > best_len || (l == best_len && s->last_used < best->last_used)) best = s.get(), best_len = l;
        }
        if (!best) {  // cannot happen (n_active_ counts slots); fail safe
          GenEvent e;
          e.kind = GenEvent::Kind::Error;
          e.status = 500;
          e.message = "no free slot";
          r->push(std::move(e));
          std::lock_guard<std::mutex> lk(mu_);
          --n_active_;
          continue;
        }
        best->admit_order = ++admit_counter;
        admit(*best, r);
      }
      const auto now = Clock::now();
      for (auto& s : slots_) {
        if (!s->req) continue;
        if (s->req->cancelled) fail(*s, 499, "the client closed the connection", "client_closed", "client_disconnected");
        else if (now > s->req->deadline) fail(*s, 503, "the request timed out (--timeout)", "timeout", "timeout");
      }
      step();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "serve: engine error: %s\n", e.what());
      for (auto& s : slots_) {
        if (!s->req) continue;
        s->cached.clear();
        s->seq->n_past = 0;
        fail(*s, 500, std::string("engine error: ") + e.what(), "engine_error", "error");
      }
    }
  }
}

void Scheduler::admit(Slot& s, std::shared_ptr<GenRequest> r) {
  const std::vector<int32_t>& P = r->prompt;
  const auto now = Clock::now();
  s.req = r;
  s.pending = -1;
  s.got_first = false;
  s.t_admit = now;
  metrics_.queue_time.observe(seconds(now - r->arrival));
  metrics_.prompt_tokens += P.size();
  metrics_.prompt_len.observe(static_cast<double>(P.size()));
  try {
    if (P.empty() || static_cast<int>(P.size()) >= opt_.n_ctx) throw std::invalid_argument("prompt does not fit the context");
    // Reuse: the slot's own rows, or a longer prefix from the store. Whatever the slot held
    // beyond the shared part is about to be overwritten, so it is saved to the store first.
    const size_t l_slot = common_prefix(s.cached, P);
    if (s.cached.size() > l_slot) store_.insert(s.cached, s.seq->cache);
    size_t reuse = l_slot;
    const PrefixCache::Match m = store_.find(P);
    if (m.cache && m.length > l_slot) {
      reuse = std::min(m.length, P.size() - 1);
      s.seq->cache.copy_positions(*m.cache, 0, 0, static_cast<int>(reuse));
    }
    reuse = std::min(reuse, P.size() - 1);  // the last prompt token is evaluated for its logits
    s.cached.assign(P.begin(), P.begin() + static_cast<std::ptrdiff_t>(reuse));
    s.seq->n_past = static_cast<int>(reuse);
    s.prompt_done = reuse;
    s.reused = static_cast<int>(reuse);
    metrics_.prefix_cache_queries += P.size();
    metrics_.prefix_cache_hits += reuse;
    metrics_.prefix_cache_bytes = static_cast<int64_t>(store_.bytes());
    metrics_.prefix_cache_entries = static_cast<int64_t>(store_.entries());
    s.gen = std::make_unique<Generator>(&tok_, &rules_, r->params, P);
  } catch (const std::exception& e) {
    s.cached.clear();
    s.seq->n_past = 0;
    fail(s, 400, e.what(), "invalid_request", "error");
  }
}

void Scheduler::step() {
  std::vector<Model::BatchToken> batch;
  std::vector<Slot*> rows;  // the slot of each logits row, in order
  std::vector<Slot*> decoding, prefilling;
  for (auto& s : slots_) {
    if (!s->req) continue;
    if (s->pending >= 0) decoding.push_back(s.get());
    else if (s->prompt_done < s->req->prompt.size()) prefilling.push_back(s.get());
  }
  if (decoding.empty() && prefilling.empty()) return;
  for (Slot* s : decoding) {
    batch.push_back({s->seq.get(), s->pending, true});
    rows.push_back(s);
  }
  // Prefill chunks, first admitted first, within the step's token budget (at least a little
  // progress every step so a flood of decodes cannot starve a prompt).
  std::sort(prefilling.begin(), prefilling.end(), [](Slot* a, Slot* b) { return a->admit_order < b->admit_order; });
  int budget = std::max(opt_.step_tokens - static_cast<int>(decoding.size()), 16);
  for (Slot* s : prefilling) {
    s->chunk = 0;
    if (budget <= 0) continue;
    const auto& P = s->req->prompt;
    const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(budget), P.size() - s->prompt_done));
    for (int i = 0; i < n; ++i) {
      const bool last = s->prompt_done + static_cast<size_t>(i) + 1 == P.size();
      batch.push_back({s->seq.get(), P[s->prompt_done + static_cast<size_t>(i)], last});
      if (last) rows.push_back(s);
    }
    s->chunk = n;
    budget -= n;
  }

  const int n_vocab = model_.n_vocab();
  std::vector<float> logits(rows.size() * static_cast<size_t>(n_vocab));
  try {
    model_.forward_batch(batch, logits.data());
  } catch (...) {
    // The caches of the sequences in this batch may be half written: forget them.
    for (const auto& b : batch) {
      for (auto& s : slots_)
        if (s->seq.get() == b.seq) s->cached.clear(), s->seq->n_past = 0;
    }
    throw;
  }
  metrics_.forward_batches += 1;
  metrics_.forward_tokens += batch.size();

  for (Slot* s : decoding) {
    s->cached.push_back(s->pending);
    s->pending = -1;
  }
  for (Slot* s : prefilling) {
    const auto& P = s->req->prompt;
    s->cached.insert(s->cached.end(), P.begin() + static_cast<std::ptrdiff_t>(s->prompt_done),
                     P.begin() + static_cast<std::ptrdiff_t>(s->prompt_done) + s->chunk);
    s->prompt_done += static_cast<size_t>(s->chunk);
    s->chunk = 0;
  }
  update_kv_usage();

  for (size_t i = 0; i < rows.size(); ++i) {
    Slot* s = rows[i];
    if (!s->req) continue;
    handle_logits(*s, logits.data() + i * static_cast<size_t>(n_vocab));
  }
}

void Scheduler::handle_logits(Slot& s, float* row) {
  GenRequest& r = *s.req;
  Generator::Step st = s.gen->next(row, model_.n_vocab());
  const auto now = Clock::now();
  if (!s.got_first) {
    metrics_.ttft.observe(seconds(now - r.arrival));
    s.got_first = true;
  } else {
    metrics_.itl.observe(seconds(now - s.t_last));
  }
  s.t_last = now;
  if (st.end_of_turn) {
    finish(s, "stop");
    return;
  }
  metrics_.generation_tokens += 1;
  GenEvent ev;
  ev.kind = GenEvent::Kind::Delta;
  ev.token = st.token;
  ev.text = std::move(st.text);
  if (st.logprob) {
    ev.has_logprob = true;
    ev.lp = std::move(*st.logprob);
  }
  r.push(std::move(ev));
  if (st.stop_string) finish(s, "stop");
  else if (s.gen->generated() >= r.max_tokens || s.seq->n_past + 1 > s.seq->cache.capacity()) finish(s, "length");
  else s.pending = st.token;
}

void Scheduler::finish(Slot& s, const std::string& reason) {
  GenRequest& r = *s.req;
  GenEvent ev;
  ev.kind = GenEvent::Kind::Done;
  const int generated = s.gen ? s.gen->generated() : 0;
  if (s.gen) ev.text = s.gen->finish();
  ev.finish_reason = reason;
  ev.prompt_tokens = static_cast<int>(r.prompt.size());
  ev.cached_tokens = s.reused;
  ev.completion_tokens = generated;
  metrics_.finished.inc(reason);
  metrics_.e2e.observe(seconds(Clock::now() - r.arrival));
  metrics_.generation_len.observe(generated);
  r.push(std::move(ev));
  release(s);
}

void Scheduler::fail(Slot& s, int status, const std::string& message, const std::string& code, const char* metric_reason) {
  GenEvent ev;
  ev.kind = GenEvent::Kind::Error;
  ev.status = status;
  ev.message = message;
  ev.code = code;
  metrics_.aborted.inc(metric_reason);
  s.req->push(std::move(ev));
  release(s);
}

// Positions the running requests hold, for the usage gauge (also after a release: a finished
// request's rows are kept for reuse but are no longer in use).
void Scheduler::update_kv_usage() {
  int64_t used = 0;
  for (auto& s : slots_)
    if (s->req) used += s->seq->n_past;
  metrics_.kv_tokens_used = used;
}

void Scheduler::release(Slot& s) {
  s.req.reset();
  s.gen.reset();
  s.pending = -1;
  s.chunk = 0;
  s.last_used = ++use_clock_;
  update_kv_usage();
  std::lock_guard<std::mutex> lk(mu_);
  --n_active_;
  metrics_.requests_running = n_active_;
  if (n_active_ == 0 && waiting_.empty()) idle_cv_.notify_all();
}

}  // namespace qs
