// Dot products and scaled adds of a float vector with a stored row of int8,
// f16 or f32 values: the inner loops of attention over a compressed KV cache
// (scores = q . k, out += p * v) with dequantization done in registers.
// Scalar versions are the reference; the AVX2 set is chosen once at first use.
#pragma once

#include <cstddef>
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

  // Attention over one block of an int8 KV cache, for m queries at once (the query heads that
  // share a KV head, times the queries of a prompt chunk), so each stored value is converted
  // once for all of them.
  // Keys are stored dimension-major: dimension d of key j is codes[d * ld + j] (ld >= n), so one
  // load holds a dimension of 16 keys and the scores need no horizontal sums. Queries come as
  // int8 levels with one scale each (the cache's own 16-key blocks: AVX2 vpmaddwd on dimension
  // pairs, AVX-512 VNNI vpdpbusd on 16 keys x 4 dimensions). Exact integer dot products, so
  // every ISA gives the same bits:
  //   scores[i][j] = dot * ((factor * q_scales[i]) * scales[j]),
  //   dot = sum_d codes[d * ld + j] * q[i][d]   (i < m, j < n)
  void (*key_scores_q8)(const int8_t* codes, int ld, const float* scales, int n, int dim,
                        const int8_t* const* q, const float* q_scales, int m, float factor,
                        float* const* scores);
  // Values are stored in quads of 4 rows, dimension by dimension (ValueCodeIndex below: the 4
  // values of dimension d are adjacent), and a partial last quad is padded to 4 rows: the SIMD
  // kernels read the padding (times level 0). The weights w_j = p[i][j] * scales[j] (p >= 0)
  // are rounded to u8 levels per query and call (ValueLevels in internal/attention_q8.h: step =
  // max_j w_j / 255), so the sums are exact integer dot products (AVX2 vpmaddwd on 4 keys x 4
  // dimensions, AVX-512 VNNI vpdpbusd on 4 keys x 16 dimensions, one load each) and every ISA
  // gives the same bits:
  //   out[i][d] += step_i * sum_j level_ij * codes[ValueCodeIndex(j, d, dim)]   (i < m, d < dim,
  //   j < n)
  void (*value_sum_q8)(const int8_t* codes, const float* scales, int n, int dim,
                       const float* const* p, int m, float* const* out);

  // Returns sum_i exp((x[i] - shift) * scale) (summed in double) and, if y is not null, stores
  // each term in y[i] (y may be x). For softmax, log-sum-exp and sampling, where shift is the
  // maximum, so every term is in [0, 1] (-inf gives 0). AVX2: a polynomial within 2 ulp of
  // std::exp.
  double (*exp_sum)(const float* x, int n, float shift, float scale, float* y);
};

// Where value_sum_q8 finds dimension d of value j: in quads of 4 rows, dimension-interleaved.
constexpr size_t ValueCodeIndex(int j, int d, int dim) {
  return static_cast<size_t>(j / 4) * 4 * static_cast<size_t>(dim) + static_cast<size_t>(d) * 4 +
         static_cast<size_t>(j % 4);
}

// Returns the set for `isa` (AVX-512 CPUs use the AVX2 set but for key_scores_q8, which needs
// VNNI and VBMI's byte permute there; without VBMI they keep the AVX2 one).
const VectorOps& VectorOpsFor(Isa isa);
// Returns the set of the ISA active at the first call.
const VectorOps& ActiveVectorOps();

}  // namespace ts::kernels
