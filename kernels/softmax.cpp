#include "kernels/softmax.h"

#include "kernels/vector_ops.h"

namespace ts::kernels {
namespace {

// Returns max x[i] (n >= 1) over 8 independent running maxima: a single chain of compares
// waits on each one's latency, and attention at depth 4096 takes 600 of these maxima per token.
float Max(const float* x, int n) {
  float lanes[8];
  for (float& lane : lanes) lane = x[0];
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) lanes[k] = x[i + k] > lanes[k] ? x[i + k] : lanes[k];
  }
  float max_value = lanes[0];
  for (int k = 1; k < 8; ++k) max_value = lanes[k] > max_value ? lanes[k] : max_value;
  for (; i < n; ++i) max_value = x[i] > max_value ? x[i] : max_value;
  return max_value;
}

}  // namespace

void Softmax(float* x, int n) {
  if (n <= 0) return;
  const float max_value = Max(x, n);
  const double sum = ActiveVectorOps().exp_sum(x, n, max_value, 1.0f, x);
  const float inv_sum = static_cast<float>(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inv_sum;
}

}  // namespace ts::kernels
