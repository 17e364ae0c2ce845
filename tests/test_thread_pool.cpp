// The pool's two ways of splitting [0, n): the fixed split and the claimed chunks (products).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"

namespace qs {
namespace {

// Runs one split over [0, n) and checks that every index was handed out exactly once, in non-empty
// ranges inside [0, n), to valid thread indices.
template <class Split>
void expect_exact_cover(ThreadPool& pool, int64_t n, Split split) {
  std::unique_ptr<std::atomic<int>[]> hits(new std::atomic<int>[static_cast<size_t>(n)]);
  for (int64_t i = 0; i < n; ++i) hits[i] = 0;
  std::atomic<int> bad{0};
  split(n, [&](int64_t b, int64_t e, int t) {
    if (b >= e || b < 0 || e > n || t < 0 || t >= pool.size()) ++bad;
    for (int64_t i = std::max<int64_t>(b, 0); i < std::min(e, n); ++i) hits[i].fetch_add(1);
  });
  EXPECT_EQ(bad.load(), 0) << "n " << n;
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n " << n << " index " << i;
}

TEST(ThreadPool, BothSplitsCoverEveryIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{40}, int64_t{41}, int64_t{1000}, int64_t{100003}}) {
      expect_exact_cover(pool, n, [&](int64_t m, const ThreadPool::Fn& fn) { pool.parallel_for(m, fn); });
      expect_exact_cover(pool, n, [&](int64_t m, const ThreadPool::Fn& fn) { pool.parallel_for_dynamic(m, fn); });
    }
  }
}

// min_chunk: every claimed range holds at least that many indices (a whole job below it runs as one
// range), and the cover stays exact.
TEST(ThreadPool, DynamicChunksRespectTheMinimum) {
  ThreadPool pool(2);
  for (int64_t min_chunk : {int64_t{1}, int64_t{4}, int64_t{7}})
    for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{10}, int64_t{63}, int64_t{1000}}) {
      std::atomic<int64_t> smallest{n}, covered{0};
      pool.parallel_for_dynamic(n, [&](int64_t b, int64_t e, int) {
        covered += e - b;
        for (int64_t s = smallest.load(); e - b < s && !smallest.compare_exchange_weak(s, e - b);) {}
      }, min_chunk);
      EXPECT_EQ(covered.load(), n);
      EXPECT_GE(smallest.load(), std::min(n, min_chunk)) << "n " << n << " min_chunk " << min_chunk;
      expect_exact_cover(pool, n, [&](int64_t m, const ThreadPool::Fn& fn) { pool.parallel_for_dynamic(m, fn, min_chunk); });
    }
}

// Many small jobs in a row: no chunk of one job leaks into the next (the shares are reset per job).
TEST(ThreadPool, DynamicJobsBackToBack) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 2000; ++rep) {
    const int64_t n = 1 + rep % 97;
    std::atomic<int64_t> sum{0};
    pool.parallel_for_dynamic(n, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum += i + 1;
    });
    ASSERT_EQ(sum.load(), n * (n + 1) / 2) << "job " << rep;
  }
}

// A thread that finishes its share takes the rest of a slow one's: with a fixed split, thread 0 never
// runs an index of the second half.
TEST(ThreadPool, DynamicLetsAFastThreadHelp) {
  ThreadPool pool(2);
  const int64_t n = 2 * ThreadPool::kChunksPerThread;
  std::atomic<bool> helped{false};
  pool.parallel_for_dynamic(n, [&](int64_t b, int64_t e, int t) {
    if (t == 0 && e > n / 2) helped = true;
    if (t != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  EXPECT_TRUE(helped.load());
}

}  // namespace
}  // namespace qs
