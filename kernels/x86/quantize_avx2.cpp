// Activation quantization row kernels for AVX2. Same float operations as the scalar kernel
// (multiply, clamp, truncate, step by the fraction), so q is bit-identical.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/internal/dispatch.h"

namespace ts::kernels::internal::avx2 {

float AbsMax(const float* x, int n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(m0, _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask));
    m1 = _mm256_max_ps(m1, _mm256_and_ps(_mm256_loadu_ps(x + i + 8), abs_mask));
  }
  m0 = _mm256_max_ps(m0, m1);
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  float result = _mm_cvtss_f32(m);
  for (; i < n; ++i) result = std::max(result, std::fabs(x[i]));
  return result;
}

namespace {

// 8 floats -> 8 int32 = clamp(round_half_away(x * s), -128, 127).
inline __m256i QuantizeVector(__m256 x, __m256 s) {
  const __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
  const __m256 half = _mm256_set1_ps(0.5f), minus_half = _mm256_set1_ps(-0.5f);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(x, s), lo), hi);
  const __m256 whole = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_sub_ps(v, whole);
  const __m256 up = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), one);
  const __m256 down = _mm256_and_ps(_mm256_cmp_ps(frac, minus_half, _CMP_LE_OQ), one);
  return _mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(whole, up), down));
}

}  // namespace

int32_t QuantizeRow(const float* x, int n, float s, int8_t* q) {
  const __m256 sv = _mm256_set1_ps(s);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256i sum = _mm256_setzero_si256();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i i0 = QuantizeVector(_mm256_loadu_ps(x + i), sv);
    const __m256i i1 = QuantizeVector(_mm256_loadu_ps(x + i + 8), sv);
    const __m256i i2 = QuantizeVector(_mm256_loadu_ps(x + i + 16), sv);
    const __m256i i3 = QuantizeVector(_mm256_loadu_ps(x + i + 24), sv);
    sum = _mm256_add_epi32(sum, _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
    // packs works per 128-bit lane; the permute puts the 4-byte groups back in order.
    const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_permutevar8x32_epi32(bytes, order));
  }
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s4) + scalar::QuantizeRow(x + i, n - i, s, q + i);
}

}  // namespace ts::kernels::internal::avx2
