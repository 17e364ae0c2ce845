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

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
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
  const int64_t begin = job_n_ * index / n_threads_;
  const int64_t end = job_n_ * (index + 1) / n_threads_;
  if (begin < end) (*job_)(begin, end, index);
}

void ThreadPool::parallel_for(int64_t n, const Fn& fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> serial(mu_);
  job_ = &fn;
  job_n_ = n;
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
