#include "kernels/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QS_PAUSE() _mm_pause()
#else
#define QS_PAUSE() ((void)0)
#endif

namespace qs {

namespace {
// Spins before a worker sleeps (~10 µs): longer than the gap between two products of a decode step,
// short enough that an oversubscribed machine (parallel test runs, other processes) doesn't starve.
constexpr int kSpinIters = 4000;
}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), shares_(std::make_unique<Share[]>(static_cast<size_t>(n_threads_))) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lk(sleep_mu_);
    cv_.notify_all();
  }
  for (auto& t : workers_) t.join();
}

int ThreadPool::default_threads() {
  if (const char* env = std::getenv("QIUSUO_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 64u));
}

void ThreadPool::run_chunk(int index) {
  if (chunks_ > 0) return run_claimed(index);
  const int64_t begin = job_n_ * index / n_threads_;
  const int64_t end = job_n_ * (index + 1) / n_threads_;
  if (begin < end) (*job_)(begin, end, index);
}

namespace {
constexpr uint64_t pack_share(uint64_t front, uint64_t back) { return back << 32 | front; }
}  // namespace

bool ThreadPool::claim(int share, bool front, int64_t& chunk) {
  std::atomic<uint64_t>& fb = shares_[static_cast<size_t>(share)].front_back;
  uint64_t s = fb.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t f = s & 0xffffffffu, b = s >> 32;
    if (f >= b) return false;
    if (fb.compare_exchange_weak(s, front ? pack_share(f + 1, b) : pack_share(f, b - 1), std::memory_order_relaxed)) {
      chunk = static_cast<int64_t>(front ? f : b - 1);
      return true;
    }
  }
}

void ThreadPool::run_claimed(int index) {
  auto run = [&](int64_t c) {
    const int64_t begin = job_n_ * c / chunks_, end = job_n_ * (c + 1) / chunks_;
    if (begin < end) (*job_)(begin, end, index);
  };
  int64_t c = 0;
  while (claim(index, true, c)) run(c);
  for (;;) {  // help the share with the most chunks left, from its far end
    int victim = -1;
    uint64_t most = 0;
    for (int i = 0; i < n_threads_; ++i) {
      const uint64_t s = shares_[static_cast<size_t>(i)].front_back.load(std::memory_order_relaxed);
      const uint64_t f = s & 0xffffffffu, b = s >> 32;
      if (b > f && b - f > most) most = b - f, victim = i;
    }
    if (victim < 0) return;
    if (claim(victim, false, c)) run(c);
  }
}

void ThreadPool::parallel_for(int64_t n, const Fn& fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  start(n, fn, 0);
}

void ThreadPool::parallel_for_dynamic(int64_t n, const Fn& fn, int64_t min_chunk) {
  if (n <= 0) return;
  const int64_t chunks = std::min(n / std::max<int64_t>(1, min_chunk), kChunksPerThread * n_threads_);
  if (n_threads_ == 1 || chunks <= 1) {
    fn(0, n, 0);
    return;
  }
  start(n, fn, chunks);
}

void ThreadPool::start(int64_t n, const Fn& fn, int64_t chunks) {
  std::lock_guard<std::mutex> serial(mu_);
  job_ = &fn;
  job_n_ = n;
  chunks_ = chunks;
  for (int i = 0; i < n_threads_ && chunks > 0; ++i)  // published to the workers by generation_ below
    shares_[static_cast<size_t>(i)].front_back.store(
        pack_share(static_cast<uint64_t>(chunks * i / n_threads_), static_cast<uint64_t>(chunks * (i + 1) / n_threads_)),
        std::memory_order_relaxed);
  pending_.store(n_threads_ - 1);
  generation_.fetch_add(1);  // seq_cst: pairs with the sleepers_ check in worker()
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lk(sleep_mu_);
    cv_.notify_all();
  }
  run_chunk(0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpinIters) QS_PAUSE();
    else std::this_thread::yield();
  }
  job_ = nullptr;
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spins = 0; g == seen && spins < kSpinIters; ++spins) {
      QS_PAUSE();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lk(sleep_mu_);
      sleepers_.fetch_add(1);
      cv_.wait(lk, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
      g = generation_.load();
    }
    if (stop_.load()) return;
    seen = g;
    run_chunk(index);
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

namespace {
std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> p;
  return p;
}
std::mutex& pool_mu() {
  static std::mutex m;
  return m;
}
}  // namespace

ThreadPool& global_pool() {
  std::lock_guard<std::mutex> lk(pool_mu());
  if (!pool_slot()) pool_slot() = std::make_unique<ThreadPool>(ThreadPool::default_threads());
  return *pool_slot();
}

void set_global_threads(int n) {
  std::lock_guard<std::mutex> lk(pool_mu());
  pool_slot() = std::make_unique<ThreadPool>(n);
}

}  // namespace qs
