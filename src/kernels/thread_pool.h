// A persistent pool of worker threads. parallel_for splits [0, n) into contiguous chunks, one per
// thread (the caller runs the first), and returns when all are done. Workers spin briefly between
// jobs before sleeping, so the hundreds of small products in one decoded token don't each pay a
// kernel wake-up; nothing is created per call.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qs {

class ThreadPool {
 public:
  using Fn = std::function<void(int64_t, int64_t, int)>;
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // fn(begin, end, thread_index) over a partition of [0, n). Not re-entrant: call it from one
  // thread at a time (jobs must not start nested parallel_fors on the same pool).
  void parallel_for(int64_t n, const Fn& fn);

  static int default_threads();

 private:
  void worker(int index);
  void run_chunk(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const Fn* job_ = nullptr;
  int64_t job_n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // serialises parallel_for callers and guards sleeping
  std::mutex sleep_mu_;
  std::condition_variable cv_;
};

// The pool shared by the engine; created on first use with default_threads() threads.
ThreadPool& global_pool();
void set_global_threads(int n);

}  // namespace qs
