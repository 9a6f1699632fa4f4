#include "kernels/norm.h"

#include <cmath>
#include <cstddef>

namespace ts::kernels {

void RmsNorm(const float* x, const float* weight, int n_tokens, int n, int ld, float eps,
             float* out) {
  for (int t = 0; t < n_tokens; ++t) {
    const float* xt = x + static_cast<size_t>(t) * ld;
    float* ot = out + static_cast<size_t>(t) * ld;
    // 8 partial sums so the loop vectorizes (one serial double chain cost ~2% of a prefill).
    double partial[8] = {};
    int c = 0;
    for (; c + 8 <= n; c += 8) {
      for (int j = 0; j < 8; ++j) partial[j] += static_cast<double>(xt[c + j]) * xt[c + j];
    }
    for (; c < n; ++c) partial[0] += static_cast<double>(xt[c]) * xt[c];
    double sum_sq = 0.0;
    for (const double p : partial) sum_sq += p;
    const double mean = n > 0 ? sum_sq / n : 0.0;
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(mean + static_cast<double>(eps)));
    for (int i = 0; i < n; ++i) ot[i] = xt[i] * inv_rms * weight[i];
  }
}

}  // namespace ts::kernels
