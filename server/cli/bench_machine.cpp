#include "server/cli/bench_machine.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace ts::cli {

double MeasureReadBandwidth(kernels::ThreadPool& pool) {
  constexpr size_t kBytes = size_t{1} << 30;
  std::vector<uint64_t> buffer(kBytes / sizeof(uint64_t), 1);  // written once: pages are resident
  std::vector<uint64_t> sums(static_cast<size_t>(pool.n_threads()));
  double best = 0.0;
  for (int pass = 0; pass < 4; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool.Run([&](int thread, int n_threads) {
      auto [begin, end] = kernels::SplitRange(static_cast<int>(buffer.size() / 8), thread, n_threads);
      // Four independent accumulators so the adds never limit the loads.
      uint64_t a = 0, b = 0, c = 0, d = 0;
      const uint64_t* p = buffer.data();
      for (size_t i = static_cast<size_t>(begin) * 8; i < static_cast<size_t>(end) * 8; i += 8) {
        a += p[i] + p[i + 4];
        b += p[i + 1] + p[i + 5];
        c += p[i + 2] + p[i + 6];
        d += p[i + 3] + p[i + 7];
      }
      sums[static_cast<size_t>(thread)] = a + b + c + d;
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (pass > 0) best = std::max(best, static_cast<double>(kBytes) / seconds);  // pass 0 warms up
  }
  volatile uint64_t sink = 0;
  for (uint64_t s : sums) sink = sink + s;
  return best;
}

}  // namespace ts::cli
