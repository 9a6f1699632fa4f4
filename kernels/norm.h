// RMSNorm (f32). Scalar: a few microseconds per 2560-wide token, not worth SIMD variants yet.
#pragma once

namespace ts::kernels {

// For each token t < n_tokens, with row stride ld (>= n) for both x and out:
// out[t][i] = x[t][i] / sqrt(mean_i(x[t][i]^2) + eps) * weight[i].
// The mean of squares is accumulated in double. out may equal x (in place).
void RmsNorm(const float* x, const float* weight, int n_tokens, int n, int ld, float eps,
             float* out);

}  // namespace ts::kernels
