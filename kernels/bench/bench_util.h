// Shared helpers for the kernel micro-benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>

#include "kernels/cpu.h"
#include "kernels/thread_pool.h"

namespace ts::kernels::bench {

// Working sets are replicated to at least this many bytes so a GEMV streams from DRAM, not L3
// (32 MB here): the decode score is a fraction of memory bandwidth.
inline constexpr size_t kColdBytes = size_t{192} << 20;

// Forces the ISA numbered `isa_arg` (0 scalar, 1 avx2, 2 avx512); returns false (and marks the
// benchmark skipped) if the CPU lacks it.
bool UseIsa(benchmark::State& state, int isa_arg);

// The process-wide pool: DefaultThreadCount() threads, or TS_BENCH_THREADS if set.
ThreadPool& BenchPool();

// Cycles per second of this CPU as it runs (kernels::MeasureCoreHz), measured once.
double CyclesPerSecond();

}  // namespace ts::kernels::bench
