// Element-wise f32 ops of the FFN and residual stream. Plain loops the compiler vectorises for
// the baseline ISA; each reads and writes n floats once.
#pragma once

namespace ts::kernels {

// out[i] = max(gate[i], 0)^2 * up[i]   (squared-ReLU gated FFN of bitnet-b1.58). out may alias.
void SquaredReluMul(const float* gate, const float* up, float* out, int n);

// out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]   (SiLU gated FFN). out may alias.
void SiluMul(const float* gate, const float* up, float* out, int n);

// x[i] += y[i]   (residual add).
void Add(float* x, const float* y, int n);

}  // namespace ts::kernels
