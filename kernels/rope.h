// Rotary position embedding, NEOX style (pairs (i, i + n_rot / 2)), in place.
#pragma once

namespace ts::kernels {

// Rotates x [n_heads, head_dim] of one token at position pos, per head: for i < n_rot / 2,
// (x[i], x[i + n_rot/2]) <- rotation by theta_i = pos * freq_base^(-2i / n_rot).
// Dims >= n_rot are untouched. Requires n_rot even and n_rot <= head_dim.
// Angles are computed in double, so large positions keep their accuracy.
void RopeNeox(float* x, int n_heads, int head_dim, int n_rot, int pos, float freq_base);

}  // namespace ts::kernels
