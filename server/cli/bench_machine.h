// Machine measurements that turn benchmark times into ratios: read bandwidth
// (bytes/s with all threads streaming) and the core clock (cycles/s).
#pragma once

#include "kernels/thread_pool.h"

namespace ts::cli {

// Returns the best of a few timed passes summing a 1 GiB buffer on every thread of pool.
double MeasureReadBandwidth(kernels::ThreadPool& pool);

// Returns the core clock in Hz, timed with a chain of dependent 64-bit multiplies
// (3 cycles latency on every x86-64 core of the last decade).
double EstimateCpuHz();

}  // namespace ts::cli
