// AVX2 + FMA + F16C versions of kernels/vector_ops.h. 8 floats per step, two
// accumulators to cover FMA latency; scalar tails.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "kernels/f16.h"
#include "kernels/internal/attention_q8.h"
#include "kernels/internal/with_count.h"

namespace ts::kernels::avx2_ops {
namespace {

float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__m256 LoadI8(const int8_t* p) {
  int64_t bits;
  std::memcpy(&bits, p, 8);
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bits)));
}

__m256 LoadF16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// exp(x) for x <= 88 (larger x is clamped): x = k ln2 + r with |r| <= ln2 / 2, then a degree-6
// polynomial for exp(r) (Cephes' expf coefficients) scaled by 2^k through the exponent bits.
// Below -87.3 (where expf leaves the normal range) the result is 0, so -inf gives 0.
__m256 Exp(__m256 x_in) {
  const __m256 lowest = _mm256_set1_ps(-87.3f);
  const __m256 x = _mm256_min_ps(_mm256_max_ps(x_in, lowest), _mm256_set1_ps(88.0f));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // r = x - k ln2, with ln2 split in two so the product is exact enough.
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(_mm256_cmp_ps(x_in, lowest, _CMP_LT_OQ),
                          _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

constexpr int kMaxQueries = 4;  // per pass: 4 queries x 16 lanes = 8 accumulators

// ValueLevels (internal/attention_q8.h) for n <= 16, as the level pairs ValueTileQ8 reads:
// pairs[k] = level 2k | level 2k+1 << 16. The same products, maximum and roundings, so the same
// levels (zero past n). Returns the step.
float ValueLevelPairs(const float* p, const float* scales, int n, int32_t* pairs) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i valid_low = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
  const __m256i valid_high = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane);
  const __m256 w_low =
      _mm256_mul_ps(_mm256_maskload_ps(p, valid_low), _mm256_maskload_ps(scales, valid_low));
  const __m256 w_high = _mm256_mul_ps(_mm256_maskload_ps(p + 8, valid_high),
                                      _mm256_maskload_ps(scales + 8, valid_high));
  __m256 max8 = _mm256_max_ps(w_low, w_high);  // weights >= 0, masked lanes 0
  __m128 max4 = _mm_max_ps(_mm256_castps256_ps128(max8), _mm256_extractf128_ps(max8, 1));
  max4 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
  const float max_weight = _mm_cvtss_f32(_mm_max_ss(max4, _mm_movehdup_ps(max4)));
  const float inv_step = max_weight > 0.0f ? 255.0f / max_weight : 0.0f;
  auto levels = [&](__m256 w) {
    return _mm256_cvttps_epi32(_mm256_min_ps(
        _mm256_add_ps(_mm256_mul_ps(w, _mm256_set1_ps(inv_step)), _mm256_set1_ps(0.5f)),
        _mm256_set1_ps(255.0f)));
  };
  // packus interleaves the halves per 128-bit lane; permute4x64 puts levels 0..15 in order.
  const __m256i packed =
      _mm256_permute4x64_epi64(_mm256_packus_epi32(levels(w_low), levels(w_high)), 0xD8);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(pairs), packed);
  return max_weight / 255.0f;
}

// value_sum_q8 over 8 dimensions from d0 for Q queries. A quad of 4 keys holds each dimension's
// 4 values side by side: 16 bytes (4 dimensions x 4 keys) widened to int16 meet the query's 4
// levels in vpmaddwd, which adds keys j, j + 1 and keys j + 2, j + 3 into two int32 lanes per
// dimension; one vphaddd at the end joins them. pairs[i][j / 2] holds query i's level pairs
// (zero past n, so the padding of a partial quad adds nothing). Exact integers.
template <int Q>
void ValueTileQ8(const int8_t* codes, int n, int dim, int d0, const int32_t (*pairs)[8],
                 const float* steps, float* const* out) {
  __m256i low[Q], high[Q];  // dimensions d0..d0+3 and d0+4..d0+7, two lanes each
  for (int i = 0; i < Q; ++i) low[i] = high[i] = _mm256_setzero_si256();
  for (int j = 0; j < n; j += 4) {
    const int8_t* quad = codes + static_cast<ptrdiff_t>(j) * dim + static_cast<ptrdiff_t>(d0) * 4;
    const __m256i values_low =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quad)));
    const __m256i values_high =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quad + 16)));
    for (int i = 0; i < Q; ++i) {
      const auto levels_low = static_cast<uint32_t>(pairs[i][j / 2]);
      const auto levels_high = static_cast<uint32_t>(pairs[i][j / 2 + 1]);
      const __m256i levels = _mm256_set1_epi64x(
          static_cast<int64_t>((static_cast<uint64_t>(levels_high) << 32) | levels_low));
      low[i] = _mm256_add_epi32(low[i], _mm256_madd_epi16(values_low, levels));
      high[i] = _mm256_add_epi32(high[i], _mm256_madd_epi16(values_high, levels));
    }
  }
  for (int i = 0; i < Q; ++i) {
    // hadd gives dimensions 0 1 4 5 | 2 3 6 7; the permute puts them in order.
    const __m256i sums = _mm256_permute4x64_epi64(_mm256_hadd_epi32(low[i], high[i]), 0xD8);
    float* o = out[i] + d0;
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), _mm256_mul_ps(_mm256_cvtepi32_ps(sums),
                                                                        _mm256_set1_ps(steps[i]))));
  }
}

// key_scores_q8 on one 16-key block (ld 16): dimensions in pairs, the keys of d and d + 1
// widened to int16 and interleaved so vpmaddwd with the query pair (q[d], q[d + 1]) adds both
// products into each key's int32 lane. q16 holds the queries widened to int16. Exact integers.
template <int Q>
void KeyBlockQ8(const int8_t* codes, int dim, const int16_t* const* q16, int32_t (*dots)[16]) {
  __m256i low[Q], high[Q];  // lanes: keys 0-3 and 8-11; keys 4-7 and 12-15
  for (int i = 0; i < Q; ++i) low[i] = high[i] = _mm256_setzero_si256();
  for (int d = 0; d < dim; d += 2) {
    const __m256i k0 = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + static_cast<ptrdiff_t>(d) * 16)));
    const __m256i k1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(
        reinterpret_cast<const __m128i*>(codes + static_cast<ptrdiff_t>(d + 1) * 16)));
    const __m256i pairs_low = _mm256_unpacklo_epi16(k0, k1),
                  pairs_high = _mm256_unpackhi_epi16(k0, k1);
    for (int i = 0; i < Q; ++i) {
      int32_t pair;
      std::memcpy(&pair, q16[i] + d, sizeof(pair));
      const __m256i qv = _mm256_set1_epi32(pair);
      low[i] = _mm256_add_epi32(low[i], _mm256_madd_epi16(pairs_low, qv));
      high[i] = _mm256_add_epi32(high[i], _mm256_madd_epi16(pairs_high, qv));
    }
  }
  for (int i = 0; i < Q; ++i) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dots[i]),
                        _mm256_permute2x128_si256(low[i], high[i], 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dots[i] + 8),
                        _mm256_permute2x128_si256(low[i], high[i], 0x31));
  }
}

}  // namespace

void KeyScoresQ8(const int8_t* codes, int ld, const float* scales, int n, int dim,
                 const int8_t* const* q, const float* q_scales, int m, float factor,
                 float* const* scores) {
  constexpr int kMaxDim = 512;  // kv::kMaxHeadDim
  if (ld != 16 || n > 16 || dim % 2 != 0 || dim > kMaxDim) {
    scalar_ops::KeyScoresQ8(codes, ld, scales, n, dim, q, q_scales, m, factor, scores);
    return;
  }
  alignas(32) int16_t widened[kMaxQueries][kMaxDim];
  const int16_t* q16[kMaxQueries];
  alignas(32) int32_t dots[kMaxQueries][16];
  for (int i0 = 0; i0 < m; i0 += kMaxQueries) {
    const int n_q = std::min(kMaxQueries, m - i0);
    for (int i = 0; i < n_q; ++i) {
      for (int d = 0; d < dim; ++d) widened[i][d] = q[i0 + i][d];
      q16[i] = widened[i];
    }
    internal::WithCount<1, kMaxQueries>(
        n_q, [&](auto queries) { KeyBlockQ8<queries()>(codes, dim, q16, dots); });
    ScaleScores(dots, n_q, n, scales, q_scales + i0, factor, scores + i0);
  }
}

void ValueSumQ8(const int8_t* codes, const float* scales, int n, int dim, const float* const* p,
                int m, float* const* out) {
  if (n > 16 || dim % 8 != 0) {
    scalar_ops::ValueSumQ8(codes, scales, n, dim, p, m, out);
    return;
  }
  alignas(32) int32_t pairs[kMaxQueries][8];
  float steps[kMaxQueries];
  for (int i0 = 0; i0 < m; i0 += kMaxQueries) {
    const int n_q = std::min(kMaxQueries, m - i0);
    for (int i = 0; i < n_q; ++i) steps[i] = ValueLevelPairs(p[i0 + i], scales, n, pairs[i]);
    internal::WithCount<1, kMaxQueries>(n_q, [&](auto queries) {
      for (int d0 = 0; d0 < dim; d0 += 8)
        ValueTileQ8<queries()>(codes, n, dim, d0, pairs, steps, out + i0);
    });
  }
}

double ExpSum(const float* x, int n, float shift, float scale, float* y) {
  const __m256 vshift = _mm256_set1_ps(shift), vscale = _mm256_set1_ps(scale);
  __m256d sum0 = _mm256_setzero_pd(), sum1 = _mm256_setzero_pd();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = Exp(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vshift), vscale));
    if (y != nullptr) _mm256_storeu_ps(y + i, e);
    sum0 = _mm256_add_pd(sum0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    sum1 = _mm256_add_pd(sum1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(sum0, sum1));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) {
    const float e = std::exp((x[i] - shift) * scale);
    if (y != nullptr) y[i] = e;
    sum += e;
  }
  return sum;
}

float DotI8(const int8_t* row, const float* x, int n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(LoadI8(row + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(LoadI8(row + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  float sum = HorizontalSum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) sum += static_cast<float>(row[i]) * x[i];
  return sum;
}

float DotF16(const uint16_t* row, const float* x, int n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(LoadF16(row + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(LoadF16(row + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  float sum = HorizontalSum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) sum += F16ToF32(row[i]) * x[i];
  return sum;
}

float DotF32(const float* row, const float* x, int n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  float sum = HorizontalSum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) sum += row[i] * x[i];
  return sum;
}

void AxpyI8(const int8_t* row, float a, float* y, int n) {
  const __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, LoadI8(row + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * static_cast<float>(row[i]);
}

void AxpyF16(const uint16_t* row, float a, float* y, int n) {
  const __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, LoadF16(row + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * F16ToF32(row[i]);
}

void AxpyF32(const float* row, float a, float* y, int n) {
  const __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(row + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * row[i];
}

}  // namespace ts::kernels::avx2_ops
