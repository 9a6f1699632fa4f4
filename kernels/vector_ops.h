// Dot products and scaled adds of a float vector with a stored row of int8,
// f16 or f32 values: the inner loops of attention over a compressed KV cache
// (scores = q . k, out += p * v) with dequantization done in registers.
// Scalar versions are the reference; the AVX2 set is chosen once at first use.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace ts::kernels {

struct VectorOps {
  float (*dot_i8)(const int8_t* row, const float* x, int n);        // sum row[i] * x[i]
  float (*dot_f16)(const uint16_t* row, const float* x, int n);
  float (*dot_f32)(const float* row, const float* x, int n);
  void (*axpy_i8)(const int8_t* row, float a, float* y, int n);      // y[i] += a * row[i]
  void (*axpy_f16)(const uint16_t* row, float a, float* y, int n);
  void (*axpy_f32)(const float* row, float a, float* y, int n);
};

// Returns the set for `isa` (AVX-512 CPUs use the AVX2 set: these loops are memory bound).
const VectorOps& VectorOpsFor(Isa isa);
// Returns the set of the ISA active at the first call.
const VectorOps& ActiveVectorOps();

}  // namespace ts::kernels
