// VectorOps::key_scores_q8 and value_sum_q8 for AVX-512 VNNI + VBMI (the rest of the AVX-512
// set is AVX2's). Compiled with -mavx512f/bw/vl/vnni/vbmi and -ffp-contract=off (the value sums
// add step * dot exactly as the scalar reference does, without a fused multiply-add).
//
// Keys are stored dimension-major, 16 per block: one 64-byte line holds dimensions d..d+3 of the
// 16 keys, 16 bytes each. vpermb turns it into 16 keys x 4 dimensions (a key per int32 lane), and
// one vpdpbusd per query adds that query's 4 products to each key's lane: 256 multiply-adds in
// one instruction where the float kernels convert and FMA 8 at a time. vpdpbusd multiplies
// unsigned by signed bytes: the queries go in as q + 128 and 128 * sum_d k[d] comes back out
// (its own vpdpbusd with ones, shared by all queries). Exact integers: the same bits as the
// scalar reference.
//
// Values are stored in quads of 4 keys, dimension by dimension, so one 64-byte load is 16
// dimensions x 4 keys (a dimension per int32 lane) and one vpdpbusd per query multiplies them by
// the query's 4 u8 weight levels (unsigned: no correction).
#include <algorithm>
#include <cstring>

#include "kernels/internal/attention_q8.h"
#include "kernels/internal/with_count.h"
#include "kernels/x86/avx512_intrinsics.h"

namespace ts::kernels::avx512_ops {
namespace {

constexpr int kKeys = 16;     // keys per block (the cache's block size)
constexpr int kMaxQ = 8;      // queries per pass: Q accumulators + the key sums in registers
constexpr int kMaxDim = 512;  // kv::kMaxHeadDim

// The vpermb index that turns 4 rows of 16 bytes into 16 lanes of 4 bytes: output byte 4 * a + b
// <- input byte 16 * b + a.
__m512i TransposeIndex() {
  alignas(64) int8_t transpose[64];
  for (int o = 0; o < 64; ++o) transpose[o] = static_cast<int8_t>(o % 4 * 16 + o / 4);
  return _mm512_load_si512(transpose);
}

// dots[i][j] = sum_d codes[d * 16 + j] * q[i][d] for Q queries; q_flipped holds q + 128.
template <int Q>
void KeyBlock(const int8_t* codes, int dim, const uint8_t (*q_flipped)[kMaxDim],
              int32_t (*dots)[kKeys]) {
  const __m512i index = TransposeIndex();
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i key_sums = _mm512_setzero_si512();
  __m512i acc[Q];
  for (int i = 0; i < Q; ++i) acc[i] = _mm512_setzero_si512();
  for (int d = 0; d < dim; d += 4) {
    const __m512i keys = _mm512_permutexvar_epi8(index, _mm512_loadu_si512(codes + d * kKeys));
    key_sums = _mm512_dpbusd_epi32(key_sums, ones, keys);
    for (int i = 0; i < Q; ++i) {
      int32_t q4;
      std::memcpy(&q4, q_flipped[i] + d, sizeof(q4));
      acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_set1_epi32(q4), keys);
    }
  }
  const __m512i offset = _mm512_slli_epi32(key_sums, 7);
  for (int i = 0; i < Q; ++i) _mm512_storeu_si512(dots[i], _mm512_sub_epi32(acc[i], offset));
}

// ValueLevels (internal/attention_q8.h) for n <= 16 in one register: the same products, maximum
// and roundings, so the same levels (levels[n..15] come out 0).
float ValueLevels16(const float* p, const float* scales, int n, uint8_t* levels) {
  const auto valid = static_cast<__mmask16>((1u << n) - 1);
  const __m512 weights =
      _mm512_mul_ps(_mm512_maskz_loadu_ps(valid, p), _mm512_maskz_loadu_ps(valid, scales));
  const float max_weight = _mm512_reduce_max_ps(weights);  // weights >= 0, masked lanes 0
  const float inv_step = max_weight > 0.0f ? 255.0f / max_weight : 0.0f;
  const __m512 rounded = _mm512_min_ps(
      _mm512_add_ps(_mm512_mul_ps(weights, _mm512_set1_ps(inv_step)), _mm512_set1_ps(0.5f)),
      _mm512_set1_ps(255.0f));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(levels),
                   _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(rounded)));
  return max_weight / 255.0f;
}

// value_sum_q8 for Q queries: levels4[i][j / 4] holds query i's levels of keys j..j+3 (0 past
// n, so the padding of a partial quad adds nothing).
template <int Q>
void ValueBlock(const int8_t* codes, int n, int dim, const int32_t (*levels4)[kKeys / 4],
                const float* steps, float* const* out) {
  for (int d0 = 0; d0 < dim; d0 += 16) {
    __m512i acc[Q];
    for (int i = 0; i < Q; ++i) acc[i] = _mm512_setzero_si512();
    for (int j = 0; j < n; j += 4) {
      const int8_t* quad = codes + static_cast<ptrdiff_t>(j) * dim;
      const __m512i values = _mm512_loadu_si512(quad + static_cast<ptrdiff_t>(d0) * 4);
      for (int i = 0; i < Q; ++i) {
        acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_set1_epi32(levels4[i][j / 4]), values);
      }
    }
    for (int i = 0; i < Q; ++i) {
      float* o = out[i] + d0;
      _mm512_storeu_ps(
          o, _mm512_add_ps(_mm512_loadu_ps(o),
                           _mm512_mul_ps(_mm512_cvtepi32_ps(acc[i]), _mm512_set1_ps(steps[i]))));
    }
  }
}

}  // namespace

void KeyScoresQ8(const int8_t* codes, int ld, const float* scales, int n, int dim,
                 const int8_t* const* q, const float* q_scales, int m, float factor,
                 float* const* scores) {
  if (ld != kKeys || n > kKeys || dim % 4 != 0 || dim > kMaxDim) {
    scalar_ops::KeyScoresQ8(codes, ld, scales, n, dim, q, q_scales, m, factor, scores);
    return;
  }
  alignas(64) uint8_t q_flipped[kMaxQ][kMaxDim];
  alignas(64) int32_t dots[kMaxQ][kKeys];
  for (int i0 = 0; i0 < m; i0 += kMaxQ) {
    const int n_q = std::min(kMaxQ, m - i0);
    for (int i = 0; i < n_q; ++i) {
      for (int d = 0; d < dim; ++d) q_flipped[i][d] = static_cast<uint8_t>(q[i0 + i][d] ^ 0x80);
    }
    internal::WithCount<1, kMaxQ>(
        n_q, [&](auto queries) { KeyBlock<queries()>(codes, dim, q_flipped, dots); });
    ScaleScores(dots, n_q, n, scales, q_scales + i0, factor, scores + i0);
  }
}

void ValueSumQ8(const int8_t* codes, const float* scales, int n, int dim, const float* const* p,
                int m, float* const* out) {
  if (n > kKeys || dim % 16 != 0) {
    scalar_ops::ValueSumQ8(codes, scales, n, dim, p, m, out);
    return;
  }
  alignas(64) int32_t levels4[kMaxQ][kKeys / 4];
  float steps[kMaxQ];
  for (int i0 = 0; i0 < m; i0 += kMaxQ) {
    const int n_q = std::min(kMaxQ, m - i0);
    for (int i = 0; i < n_q; ++i) {
      alignas(16) uint8_t levels[kKeys] = {};
      steps[i] = ValueLevels16(p[i0 + i], scales, n, levels);
      std::memcpy(levels4[i], levels, sizeof(levels));
    }
    internal::WithCount<1, kMaxQ>(
        n_q, [&](auto queries) { ValueBlock<queries()>(codes, n, dim, levels4, steps, out + i0); });
  }
}

}  // namespace ts::kernels::avx512_ops
