// A persistent pool of worker threads. parallel_for splits [0, n) into contiguous chunks, one per
// thread (the caller runs the first), and returns when all are done. Workers spin briefly between
// jobs before sleeping, so the hundreds of small products in one decoded token don't each pay a
// kernel wake-up; nothing is created per call.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
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
  // Like parallel_for, but threads claim [0, n) in chunks (up to kChunksPerThread per thread, none
  // smaller than min_chunk): each starts on its own contiguous share, front to back, and one that
  // runs out takes chunks from the back of the fullest share left, so every stream stays
  // sequential. fn may be called several times per thread. For products: with the fixed split the
  // main thread waited ~7% of a decode step for the worker; 8 chunks per thread cut that to ~2.7%,
  // 32 to ~1.3% (a thread finishing first waits half a chunk on average). min_chunk keeps a
  // chunk big enough for the kernel's own blocking (the decode kernels read two groups side by side).
  void parallel_for_dynamic(int64_t n, const Fn& fn, int64_t min_chunk = 1);
  static constexpr int64_t kChunksPerThread = 32;

  static int default_threads();

 private:
  void worker(int index);
  void run_chunk(int index);
  void start(int64_t n, const Fn& fn, int64_t chunks);
  bool claim(int share, bool front, int64_t& chunk);
  void run_claimed(int index);

  // One thread's chunks still to run, [front, back), packed as back << 32 | front so a claim from
  // either end is one compare-exchange.
  struct alignas(64) Share {
    std::atomic<uint64_t> front_back{0};
  };

  int n_threads_;
  std::vector<std::thread> workers_;
  const Fn* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t chunks_ = 0;  // 0: the fixed split of parallel_for
  std::unique_ptr<Share[]> shares_;
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
