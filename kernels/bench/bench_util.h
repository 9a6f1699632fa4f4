// Shared helpers for the kernel micro-benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/thread_pool.h"

namespace ts::kernels::bench {

// Working sets are replicated to at least this many bytes so a GEMV streams from DRAM, not L3:
// the decode score is a fraction of memory bandwidth. (The Sapphire Rapids VM reports a 480 MB
// L3; with the former 192 MB, 6912 x 2560 "cold" read 33 GB/s at 2 threads, above the DRAM
// probe's 31, against 27 from 1 GB.)
inline constexpr size_t kColdBytes = size_t{1024} << 20;

// Forces the ISA numbered `isa_arg` (0 scalar, 1 avx2, 2 avx512); returns false (and marks the
// benchmark skipped) if the CPU lacks it.
bool UseIsa(benchmark::State& state, int isa_arg);

// The process-wide pool: DefaultThreadCount() threads, or TS_BENCH_THREADS if set.
ThreadPool& BenchPool();

// Cycles per second of this CPU as it runs (kernels::MeasureCoreHz), measured once.
double CyclesPerSecond();

// Returns n_rows x n_cols trits, each -1, 0 or +1 with equal odds, drawn from rng.
std::vector<int8_t> RandomTrits(int n_rows, int n_cols, std::mt19937& rng);

// Fills x[0, n) with int8 activations drawn uniformly from [-128, 127]; returns their sum.
int32_t RandomActivations(int n, std::mt19937& rng, int8_t* x);

// Returns whether dots[r] == sum_c trits[r * n_cols + c] * x[c] for every row r < n_rows.
bool DotsMatch(const std::vector<int8_t>& trits, const int8_t* x, int n_rows, int n_cols,
               const int32_t* dots);

// For the packing experiments: runs gemv(copies[0], 0, n_rows), which writes dots, and skips the
// benchmark with mismatch_error (a string literal) unless DotsMatch(trits, x, ..., dots). Then
// runs gemv(copies[i], row_begin, row_end) once per benchmark iteration, i cycling through the
// copies (so the weights come from DRAM), the rows split over BenchPool() in multiples of
// row_step, and sets the GB/s (bytes per matrix) and Gweights/s counters.
template <class Matrix, class Gemv>
void CheckAndTimeGemv(benchmark::State& state, const char* mismatch_error,
                      const std::vector<int8_t>& trits, const int8_t* x, const int32_t* dots,
                      const std::vector<Matrix>& copies, size_t bytes, int n_rows, int n_cols,
                      int row_step, Gemv&& gemv) {
  gemv(copies[0], 0, n_rows);
  if (!DotsMatch(trits, x, n_rows, n_cols, dots)) {
    state.SkipWithError(mismatch_error);
    return;
  }
  ThreadPool& pool = BenchPool();
  size_t next = 0;
  for (auto _ : state) {
    const Matrix& w = copies[next];
    pool.Run([&](int thread, int n_threads) {
      const auto [begin, end] = SplitRange(n_rows / row_step, thread, n_threads);
      gemv(w, row_step * begin, row_step * end);
    });
    next = next + 1 == copies.size() ? 0 : next + 1;
    benchmark::ClobberMemory();
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) * iterations / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["Gweights/s"] = benchmark::Counter(
      static_cast<double>(n_rows) * n_cols * iterations / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace ts::kernels::bench
