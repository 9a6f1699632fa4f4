#include "kernels/rope.h"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

namespace ts::kernels {

void RopeNeox(float* x, int n_heads, int head_dim, int n_rot, int pos, float freq_base) {
  if (n_rot % 2 != 0 || n_rot > head_dim || n_rot < 0) {
    throw std::invalid_argument("RopeNeox: n_rot must be even and <= head_dim");
  }
  const int half = n_rot / 2;
  // cos/sin once per call, shared by all heads.
  thread_local std::vector<float> cos_sin;
  cos_sin.resize(static_cast<size_t>(2 * half));
  for (int i = 0; i < half; ++i) {
    const double theta =
        pos * std::pow(static_cast<double>(freq_base), -2.0 * i / static_cast<double>(n_rot));
    cos_sin[2 * i] = static_cast<float>(std::cos(theta));
    cos_sin[2 * i + 1] = static_cast<float>(std::sin(theta));
  }
  for (int h = 0; h < n_heads; ++h) {
    float* xh = x + static_cast<size_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const float a = xh[i], b = xh[i + half];
      xh[i] = a * c - b * s;
      xh[i + half] = a * s + b * c;
    }
  }
}

}  // namespace ts::kernels
