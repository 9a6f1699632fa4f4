// ThreadPool: persistent workers with a spin-then-sleep wake-up and completion barrier.
#include "kernels/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>

#include "kernels/host_limits.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TS_CPU_RELAX() _mm_pause()
#else
#define TS_CPU_RELAX() ((void)0)
#endif


namespace ts::kernels {
namespace {

// How long a waiting thread spins before sleeping/yielding: long enough to catch the next op of
// a forward pass (microseconds apart), short enough not to burn a shared core for long.
constexpr int kSpinIterations = 20000;

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads) {
  if (n_threads < 1) throw std::invalid_argument("ThreadPool: n_threads must be >= 1");
  claimed_ = std::make_unique<std::atomic<bool>[]>(static_cast<size_t>(n_threads));
  for (int i = 0; i < n_threads; ++i) claimed_[i].store(true, std::memory_order_relaxed);
  shares_ = std::make_unique<Share[]>(static_cast<size_t>(n_threads));
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunShare(int thread_index) {
  try {
    (*fn_)(thread_index, n_threads_);
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

bool ThreadPool::Claim(int thread_index) {
  bool expected = false;
  return claimed_[thread_index].compare_exchange_strong(expected, true,
                                                        std::memory_order_acq_rel);
}

void ThreadPool::Run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  fn_ = &fn;
  error_ = nullptr;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  // Opening the shares last publishes fn_ and pending_ to whoever claims one (acquire in Claim).
  for (int i = 1; i < n_threads_; ++i) claimed_[i].store(false, std::memory_order_release);
  {
    // The lock orders the generation bump with a worker's check-then-wait.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  RunShare(0);
  // Take over shares whose workers have not started yet (asleep or descheduled).
  for (int i = 1; i < n_threads_; ++i) {
    if (Claim(i)) {
      RunShare(i);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpinIterations) {
      TS_CPU_RELAX();
    } else {
      std::this_thread::yield();  // a worker may be descheduled on an oversubscribed machine
    }
  }
  fn_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

namespace {

uint64_t PackPieces(uint32_t front, uint32_t back) {
  return static_cast<uint64_t>(front) << 32 | back;
}

// Takes the first (from_back false) or last untaken piece of a share; false when none is left.
bool TakePiece(std::atomic<uint64_t>& share, bool from_back, int* piece) {
  uint64_t cur = share.load(std::memory_order_relaxed);
  for (;;) {
    const auto front = static_cast<uint32_t>(cur >> 32), back = static_cast<uint32_t>(cur);
    if (front >= back) return false;
    const uint64_t next = from_back ? PackPieces(front, back - 1) : PackPieces(front + 1, back);
    if (share.compare_exchange_weak(cur, next, std::memory_order_relaxed)) {
      *piece = static_cast<int>(from_back ? back - 1 : front);
      return true;
    }
  }
}

}  // namespace

void ThreadPool::ForEachPiece(int n, int grain, const std::function<void(int, int)>& fn) {
  if (grain < 1) throw std::invalid_argument("ThreadPool::ForEachPiece: grain must be >= 1");
  const int n_pieces = n <= 0 ? 0 : static_cast<int>((static_cast<int64_t>(n) + grain - 1) / grain);
  for (int i = 0; i < n_threads_; ++i) {
    const auto [begin, end] = SplitRange(n_pieces, i, n_threads_);
    shares_[i].pieces.store(PackPieces(static_cast<uint32_t>(begin), static_cast<uint32_t>(end)),
                            std::memory_order_relaxed);
  }
  auto run_piece = [&](int piece) {
    const int begin = piece * grain;
    fn(begin, static_cast<int>(std::min<int64_t>(n, static_cast<int64_t>(begin) + grain)));
  };
  // Run() publishes the shares to the workers (release on opening them, acquire on claiming).
  Run([&](int self, int n_threads) {
    int piece = 0;
    while (TakePiece(shares_[self].pieces, false, &piece)) run_piece(piece);
    for (int k = 1; k < n_threads; ++k) {
      while (TakePiece(shares_[(self + k) % n_threads].pieces, true, &piece)) run_piece(piece);
    }
  });
}

void ThreadPool::WorkerLoop(int thread_index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spins = 0; gen == seen && spins < kSpinIterations; ++spins) {
      TS_CPU_RELAX();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    if (!Claim(thread_index)) continue;  // the caller already ran (or is running) this share
    RunShare(thread_index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

std::pair<int, int> SplitRange(int n, int thread_index, int n_threads, int align) {
  if (align < 1) align = 1;
  const int n_units = (n + align - 1) / align;
  const int base = n_units / n_threads;
  const int extra = n_units % n_threads;
  const int unit_begin = thread_index * base + std::min(thread_index, extra);
  const int unit_end = unit_begin + base + (thread_index < extra ? 1 : 0);
  return {std::min(n, unit_begin * align), std::min(n, unit_end * align)};
}

int DefaultThreadCount() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  int n_allowed = 0;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) n_allowed = CPU_COUNT(&allowed);
  // Count distinct (package, core) pairs among the CPUs we may use: SMT siblings share a core's
  // SIMD units, so a second thread on a core does not speed up these kernels.
  std::set<std::pair<int, int>> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE && n_allowed > 0; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream core_file(dir + "core_id");
    std::ifstream package_file(dir + "physical_package_id");
    int core = -1, package = -1;
    if (!(core_file >> core) || !(package_file >> package)) {
      cores.clear();
      break;
    }
    cores.insert({package, core});
  }
  int n = !cores.empty() ? static_cast<int>(cores.size())
          : n_allowed > 0 ? n_allowed
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // A CPU quota (container --cpus, pod limit) is invisible to affinity: more threads than the
  // quota get throttled in turn, and every step waits for the slowest one.
  if (const auto quota = ReadCgroupLimits().cpu_quota; quota.has_value()) {
    n = std::clamp(static_cast<int>(std::ceil(*quota)), 1, n);
  }
  return n;
}

}  // namespace ts::kernels
