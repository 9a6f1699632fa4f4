// ThreadPool: a persistent pool of worker threads for data-parallel kernels.
// Threads are created once; each Run() wakes them (spin first, then sleep on a condition
// variable) and waits on a completion barrier. Not re-entrant: one Run() at a time, and fn must
// not call Run() on the same pool.
//
// A "share" thread_index is claimed by whoever gets to it first: its worker, or the caller once
// it has finished share 0. So a worker that the OS has descheduled (a busy or oversubscribed
// machine) never stalls a step: the caller does that share itself. Share 0 always runs on the
// caller; fn must not assume which OS thread runs the other shares (thread_local scratch is fine).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace ts::kernels {

class ThreadPool {
 public:
  // Requires n_threads >= 1 (throws std::invalid_argument); n_threads includes the caller.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) on every thread (the caller is thread 0) and returns when
  // all have finished. An exception thrown by fn on any thread is rethrown here (the first one).
  void Run(const std::function<void(int thread_index, int n_threads)>& fn);

  // Calls fn(begin, end) for consecutive pieces of `grain` items covering [0, n) and returns
  // when all are done. Each thread takes the pieces of its own contiguous share in order (so a
  // weight stream stays one stream and its prefetches run on into the next piece); a thread
  // that finishes early takes pieces from the back of the others' shares. Static halves left
  // one core waiting whenever the other was slowed (a busy neighbour, a late wake-up).
  // Requires grain >= 1.
  void ForEachPiece(int n, int grain, const std::function<void(int begin, int end)>& fn);

 private:
  void WorkerLoop(int thread_index);
  void RunShare(int thread_index);
  bool Claim(int thread_index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* fn_ = nullptr;
  std::atomic<uint64_t> generation_{0};  // bumped once per Run(); workers wait for a change
  std::atomic<int> pending_{0};          // shares 1..n-1 not finished in the current Run()
  std::unique_ptr<std::atomic<bool>[]> claimed_;  // [n_threads] share taken in this Run()
  // ForEachPiece's untaken pieces of one share (front << 32 | back), on a cache line of its own
  // so taking from one's own share does not evict the other thread's.
  struct alignas(64) Share {
    std::atomic<uint64_t> pieces{0};
  };
  std::unique_ptr<Share[]> shares_;  // [n_threads]
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

// Returns the half-open range [begin, end) of thread_index's chunk when [0, n) is split into
// n_threads contiguous chunks whose boundaries are multiples of `align` (the last chunk takes the
// remainder). Requires n >= 0, 0 <= thread_index < n_threads, align >= 1.
std::pair<int, int> SplitRange(int n, int thread_index, int n_threads, int align = 1);

// Returns the number of physical cores this process may run on (at least 1), capped by its
// cgroups' CPU quota rounded up.
int DefaultThreadCount();

}  // namespace ts::kernels
