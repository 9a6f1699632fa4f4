#include "kernels/softmax.h"

#include <cmath>

namespace ts::kernels {

void Softmax(float* x, int n) {
  if (n <= 0) return;
  float max_value = x[0];
  for (int i = 1; i < n; ++i) max_value = x[i] > max_value ? x[i] : max_value;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  const float inv_sum = static_cast<float>(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inv_sum;
}

}  // namespace ts::kernels
