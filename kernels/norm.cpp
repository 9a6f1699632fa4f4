#include "kernels/norm.h"

#include <cmath>
#include <cstddef>

namespace ts::kernels {

void RmsNorm(const float* x, const float* weight, int n_tokens, int n, int ld, float eps,
             float* out) {
  for (int t = 0; t < n_tokens; ++t) {
    const float* xt = x + static_cast<size_t>(t) * ld;
    float* ot = out + static_cast<size_t>(t) * ld;
    double sum_sq = 0.0;
    for (int i = 0; i < n; ++i) sum_sq += static_cast<double>(xt[i]) * xt[i];
    const double mean = n > 0 ? sum_sq / n : 0.0;
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(mean + static_cast<double>(eps)));
    for (int i = 0; i < n; ++i) ot[i] = xt[i] * inv_rms * weight[i];
  }
}

}  // namespace ts::kernels
