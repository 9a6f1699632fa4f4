// Machine measurement that turns benchmark times into ratios: read bandwidth (bytes/s with all
// threads streaming). The core clock is kernels::MeasureCoreHz().
#pragma once

#include <cstdint>

#include "kernels/aligned_buffer.h"
#include "kernels/thread_pool.h"

namespace ts::cli {

// Sums a 1 GiB buffer on every thread of a pool, held like the weights (huge pages if the
// kernel gives them), so the yardstick reads memory the way the kernels can. The bandwidth a shared
// host gives moves by 1.5-2x within minutes, so `bench` measures it right before and after each
// timed generation run and relates that run to the mean of the two.
class ReadBandwidthProbe {
 public:
  explicit ReadBandwidthProbe(kernels::ThreadPool& pool);
  // Returns the best of `passes` timed passes (after one untimed warm-up pass), bytes/s.
  double Measure(int passes);

 private:
  kernels::ThreadPool& pool_;
  kernels::AlignedBuffer<uint64_t> buffer_;  // zero-filled once: pages are resident
};

}  // namespace ts::cli
