#include "kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace ts::kernels {
namespace {

TEST(ThreadPool, RejectsZeroThreads) { EXPECT_THROW(ThreadPool(0), std::invalid_argument); }

TEST(ThreadPool, EveryThreadRunsOncePerCall) {
  for (int n_threads : {1, 2, 3}) {
    ThreadPool pool(n_threads);
    ASSERT_EQ(pool.n_threads(), n_threads);
    std::vector<std::atomic<int>> runs(static_cast<size_t>(n_threads));
    constexpr int kCalls = 2000;  // many short Run()s exercise the spin/sleep hand-off
    for (int call = 0; call < kCalls; ++call) {
      pool.Run([&](int thread_index, int n) {
        ASSERT_EQ(n, n_threads);
        runs[static_cast<size_t>(thread_index)].fetch_add(1);
      });
    }
    for (int i = 0; i < n_threads; ++i) EXPECT_EQ(runs[static_cast<size_t>(i)].load(), kCalls) << i;
  }
}

TEST(ThreadPool, CallerRunsShareZero) {
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  for (int rep = 0; rep < 100; ++rep) {
    std::thread::id seen[2];
    pool.Run([&](int thread_index, int) { seen[thread_index] = std::this_thread::get_id(); });
    ASSERT_EQ(seen[0], caller);
    ASSERT_NE(seen[1], std::thread::id());  // share 1 ran (on a worker or, if late, the caller)
  }
}

TEST(ThreadPool, WorkersDoRunShares) {
  // Share 1 waits for share 0 to finish first, so the caller cannot take it over: it must be run
  // by the worker (the caller is busy in share 0 until the worker has started share 1).
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> worker_started{false};
  std::thread::id share1_thread;
  pool.Run([&](int thread_index, int) {
    if (thread_index == 0) {
      while (!worker_started.load()) std::this_thread::yield();
    } else {
      worker_started.store(true);
      share1_thread = std::this_thread::get_id();
    }
  });
  EXPECT_NE(share1_thread, caller);
}

TEST(ThreadPool, ForEachPieceCoversEveryItemOnce) {
  for (int n_threads : {1, 2, 3}) {
    ThreadPool pool(n_threads);
    for (const auto& [n, grain] :
         {std::pair{0, 4}, {1, 4}, {7, 1}, {100, 16}, {64, 16}, {1000, 3}}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> bad_pieces{0};
      pool.ForEachPiece(n, grain, [&](int begin, int end) {
        // Pieces start at multiples of the grain and hold `grain` items, the last one fewer.
        if (begin % grain != 0 || end <= begin || end - begin > grain ||
            (end - begin < grain && end != n)) {
          bad_pieces.fetch_add(1);
        }
        for (int i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      EXPECT_EQ(bad_pieces.load(), 0) << n << " " << grain;
      for (int i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
    }
  }
}

TEST(ThreadPool, ForEachPieceLetsAFreeThreadTakeTheRest) {
  // The first piece blocks until 9 others are done: only another thread can do them, so a
  // static split (5 pieces each) would never finish.
  ThreadPool pool(2);
  std::atomic<int> done{0};
  pool.ForEachPiece(10, 1, [&](int begin, int) {
    if (begin == 0) {
      while (done.load() < 9) std::this_thread::yield();
    } else {
      done.fetch_add(1);
    }
  });
  EXPECT_EQ(done.load(), 9);
  EXPECT_THROW(pool.ForEachPiece(10, 0, [](int, int) {}), std::invalid_argument);
}

TEST(ThreadPool, ResultsIdenticalForOneAndTwoThreads) {
  constexpr int kN = 100003;
  std::vector<double> data(kN);
  std::iota(data.begin(), data.end(), 0.5);
  auto compute = [&](ThreadPool& pool) {
    std::vector<double> out(kN);
    pool.Run([&](int thread_index, int n_threads) {
      const auto [begin, end] = SplitRange(kN, thread_index, n_threads, 16);
      for (int i = begin; i < end; ++i) out[i] = data[i] * data[i] + 1.0;
    });
    return out;
  };
  ThreadPool one(1), two(2);
  for (int rep = 0; rep < 50; ++rep) ASSERT_EQ(compute(one), compute(two));
}

TEST(ThreadPool, ExceptionPropagatesAndPoolStaysUsable) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.Run([](int thread_index, int) {
    if (thread_index == 1) throw std::runtime_error("boom");
  }),
               std::runtime_error);
  std::atomic<int> count{0};
  pool.Run([&](int, int) { count.fetch_add(1); });
  EXPECT_EQ(count.load(), 2);
}

TEST(SplitRange, CoversRangeContiguouslyWithAlignment) {
  for (int n : {0, 1, 7, 64, 100, 1001}) {
    for (int n_threads : {1, 2, 3, 8}) {
      for (int align : {1, 4, 16}) {
        int expected_begin = 0;
        for (int t = 0; t < n_threads; ++t) {
          const auto [begin, end] = SplitRange(n, t, n_threads, align);
          EXPECT_EQ(begin, expected_begin) << n << " " << n_threads << " " << align;
          EXPECT_LE(begin, end);
          if (end < n) {
            EXPECT_EQ(end % align, 0);
          }
          expected_begin = end;
        }
        EXPECT_EQ(expected_begin, n);
      }
    }
  }
}

TEST(SplitRange, Balanced) {
  EXPECT_EQ(SplitRange(10, 0, 2), std::make_pair(0, 5));
  EXPECT_EQ(SplitRange(10, 1, 2), std::make_pair(5, 10));
  EXPECT_EQ(SplitRange(640, 1, 2, 4), std::make_pair(320, 640));
}

TEST(DefaultThreadCount, AtLeastOne) {
  EXPECT_GE(DefaultThreadCount(), 1);
  EXPECT_LE(DefaultThreadCount(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace ts::kernels
