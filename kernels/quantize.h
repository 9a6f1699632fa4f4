// BitNet b1.58 activation quantization: per-token absmax to int8 (formats.md section 4).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/aligned_buffer.h"

namespace ts::kernels {

// Activation rows (and packed ternary rows) are padded to a multiple of this many columns so
// SIMD kernels never need a tail: 256 = 4 x 64-byte vectors of int8 = one 64-byte word of
// 2-bit codes.
inline constexpr int kTernaryColAlign = 256;

// Smallest absmax used for the scale, so an all-zero token gives q = 0 instead of inf.
inline constexpr float kQuantizeMinAbsMax = 1e-5f;

struct QuantizedActivations {
  int n_tokens = 0, n_cols = 0, n_cols_padded = 0;
  AlignedBuffer<int8_t> q;   // [n_tokens, n_cols_padded], zero beyond n_cols
  std::vector<float> scale;  // [n_tokens] s = 127 / max(max|x|, 1e-5)
  std::vector<int32_t> sum;  // [n_tokens] sum of q (for the unsigned-code trick)
};

// Quantizes x [n_tokens, n_cols] (row stride ld_x >= n_cols floats) into *out:
// q = clamp(round(x * s), -128, 127), round half away from zero (like roundf). Requires finite x.
// Reuses out's memory when large enough. Bit-identical on every ISA.
void QuantizeActivations(const float* x, int n_tokens, int n_cols, int ld_x,
                         QuantizedActivations* out);

// Scalar reference of the above (always available, for tests).
void QuantizeActivationsReference(const float* x, int n_tokens, int n_cols, int ld_x,
                                  QuantizedActivations* out);

}  // namespace ts::kernels
