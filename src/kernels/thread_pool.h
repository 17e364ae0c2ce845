// A persistent pool of worker threads. parallel_for splits [0, n) into contiguous chunks, one per
// thread (the caller works too), and returns when all are done; no threads are created per call.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qs {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // fn(begin, end, thread_index) over a partition of [0, n).
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

  static int default_threads();

 private:
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_;
  std::condition_variable cv_done_;
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

// The pool shared by the engine; created on first use with default_threads() threads.
ThreadPool& global_pool();
void set_global_threads(int n);

}  // namespace qs
