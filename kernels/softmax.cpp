#include "kernels/softmax.h"

#include "kernels/vector_ops.h"

namespace ts::kernels {

void Softmax(float* x, int n) {
  if (n <= 0) return;
  float max_value = x[0];
  for (int i = 1; i < n; ++i) max_value = x[i] > max_value ? x[i] : max_value;
  const double sum = ActiveVectorOps().exp_sum(x, n, max_value, 1.0f, x);
  const float inv_sum = static_cast<float>(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inv_sum;
}

}  // namespace ts::kernels
