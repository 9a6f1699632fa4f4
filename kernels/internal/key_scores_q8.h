// Internal: VectorOps::key_scores_q8 per ISA. The SIMD versions handle the cache's own shape
// (16-key blocks, dimensions a multiple of 4) and hand any other to the scalar one.
#pragma once

#include <cstdint>

namespace ts::kernels {

#define TS_DECLARE_KEY_SCORES_Q8(ns)                                                   \
  namespace ns {                                                                       \
  void KeyScoresQ8(const int8_t* codes, int ld, const float* scales, int n, int dim,   \
                   const int8_t* const* q, const float* q_scales, int m, float factor, \
                   float* const* scores);                                              \
  }

TS_DECLARE_KEY_SCORES_Q8(scalar_ops)
TS_DECLARE_KEY_SCORES_Q8(avx2_ops)
TS_DECLARE_KEY_SCORES_Q8(avx512_ops)

#undef TS_DECLARE_KEY_SCORES_Q8

}  // namespace ts::kernels
