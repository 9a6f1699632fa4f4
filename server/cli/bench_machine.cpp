#include "server/cli/bench_machine.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace ts::cli {

ReadBandwidthProbe::ReadBandwidthProbe(kernels::ThreadPool& pool)
    : pool_(pool), buffer_((size_t{1} << 30) / sizeof(uint64_t)) {}

double ReadBandwidthProbe::Measure(int passes) {
  std::vector<uint64_t> sums(static_cast<size_t>(pool_.n_threads()));
  const double bytes = static_cast<double>(buffer_.size() * sizeof(uint64_t));
  double best = 0.0;
  for (int pass = 0; pass <= passes; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool_.Run([&](int thread, int n_threads) {
      auto [begin, end] = kernels::SplitRange(static_cast<int>(buffer_.size() / 8), thread, n_threads);
      // Four independent accumulators so the adds never limit the loads.
      uint64_t a = 0, b = 0, c = 0, d = 0;
      const uint64_t* p = buffer_.data();
      for (size_t i = static_cast<size_t>(begin) * 8; i < static_cast<size_t>(end) * 8; i += 8) {
        a += p[i] + p[i + 4];
        b += p[i + 1] + p[i + 5];
        c += p[i + 2] + p[i + 6];
        d += p[i + 3] + p[i + 7];
      }
      sums[static_cast<size_t>(thread)] = a + b + c + d;
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (pass > 0) best = std::max(best, bytes / seconds);  // pass 0 warms up
  }
  volatile uint64_t sink = 0;
  for (uint64_t s : sums) sink = sink + s;
  return best;
}

}  // namespace ts::cli
