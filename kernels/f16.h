// IEEE binary16 and bfloat16 conversions (scalar, exact; used at load time and by references).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ts::kernels {

// Returns the float with the same value as half `h` (exact; inf/nan/subnormals preserved,
// nan payload kept in the top mantissa bits).
float F16ToF32(uint16_t h);

// Returns the half nearest to f, ties to even; overflow gives +-inf, nan stays a (quiet) nan.
uint16_t F32ToF16(float f);

// Returns the float whose top 16 bits are h (bfloat16 is a truncated float).
float Bf16ToF32(uint16_t h);

// out[i] = F16ToF32(in[i]) for i < n.
void F16ToF32Row(const uint16_t* in, float* out, size_t n);

}  // namespace ts::kernels
