// Internal: VectorOps::key_scores_q8 and value_sum_q8 per ISA, and the rounding of the value
// weights they share. The SIMD versions handle the cache's own shapes (16-key blocks, head
// dimensions a multiple of 16) and hand any other to the scalar ones.
#pragma once

#include <cstdint>

namespace ts::kernels {

#define TS_DECLARE_ATTENTION_Q8(ns)                                                                \
  namespace ns {                                                                                   \
  void KeyScoresQ8(const int8_t* codes, int ld, const float* scales, int n, int dim,               \
                   const int8_t* const* q, const float* q_scales, int m, float factor,             \
                   float* const* scores);                                                          \
  void ValueSumQ8(const int8_t* codes, const float* scales, int n, int dim, const float* const* p, \
                  int m, float* const* out);                                                       \
  }

TS_DECLARE_ATTENTION_Q8(scalar_ops)
TS_DECLARE_ATTENTION_Q8(avx2_ops)
TS_DECLARE_ATTENTION_Q8(avx512_ops)

#undef TS_DECLARE_ATTENTION_Q8

// Rounds one query's value weights w_j = p[j] * scales[j] (>= 0) to levels[j] = trunc(w_j *
// (255 / max w) + 0.5) for j < n and returns the step max w / 255 (levels 0, step 0 when every
// w is 0). The SIMD kernels compute the same products, maximum and roundings lane by lane, so
// their levels are these.
inline float ValueLevels(const float* p, const float* scales, int n, uint8_t* levels) {
  float max_weight = 0.0f;
  for (int j = 0; j < n; ++j) {
    const float w = p[j] * scales[j];
    max_weight = w > max_weight ? w : max_weight;
  }
  const float inv_step = max_weight > 0.0f ? 255.0f / max_weight : 0.0f;
  for (int j = 0; j < n; ++j) {
    const float level = p[j] * scales[j] * inv_step + 0.5f;
    levels[j] = static_cast<uint8_t>(level < 255.0f ? level : 255.0f);
  }
  return max_weight / 255.0f;
}

// The end of key_scores_q8 for one pass of n_q queries over a 16-key block, shared so every ISA
// rounds alike: scores[i][j] = dots[i][j] * ((factor * q_scales[i]) * scales[j]), j < n.
inline void ScaleScores(const int32_t (*dots)[16], int n_q, int n, const float* scales,
                        const float* q_scales, float factor, float* const* scores) {
  for (int i = 0; i < n_q; ++i) {
    const float query_factor = factor * q_scales[i];
    for (int j = 0; j < n; ++j) {
      scores[i][j] = static_cast<float>(dots[i][j]) * (query_factor * scales[j]);
    }
  }
}

}  // namespace ts::kernels
