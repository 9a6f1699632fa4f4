// Softmax over one row (f32).
#pragma once

namespace ts::kernels {

// x[i] <- exp(x[i] - max) / sum_j exp(x[j] - max), in place. Subtracting the max keeps exp()
// from overflowing. -inf entries (masked) become 0; requires at least one finite entry and n >= 1.
void Softmax(float* x, int n);

}  // namespace ts::kernels
