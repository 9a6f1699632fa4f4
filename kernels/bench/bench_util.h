// Shared helpers for the kernel micro-benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>

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

}  // namespace ts::kernels::bench
