// Machine measurement that turns benchmark times into ratios: read bandwidth (bytes/s with all
// threads streaming). The core clock is kernels::MeasureCoreHz().
#pragma once

#include "kernels/thread_pool.h"

namespace ts::cli {

// Returns the best of a few timed passes summing a 1 GiB buffer on every thread of pool.
double MeasureReadBandwidth(kernels::ThreadPool& pool);

}  // namespace ts::cli
