// Rounding to small integers in loops that must vectorize (quantizing heads at load, KV rows
// every token): std::round / std::lround are library calls GCC will not vectorize.
#pragma once

#include <algorithm>
#include <cmath>

namespace ts::kernels {

// Returns round(v) (half away from zero, like std::round) clamped to [-limit, limit] for an
// integral limit; NaN gives limit. A truncating conversion plus a fraction test is exact here
// (|v| <= limit < 2^23, so a - i is computed exactly).
inline int RoundClamped(float v, float limit) {
  const float a = std::min(limit, std::fabs(v));
  int i = static_cast<int>(a);
  i += a - static_cast<float>(i) >= 0.5f ? 1 : 0;
  return v < 0.0f ? -i : i;
}

}  // namespace ts::kernels
