// AVX2 + FMA + F16C versions of kernels/vector_ops.h. 8 floats per step, two
// accumulators to cover FMA latency; scalar tails.
#include <immintrin.h>

#include <cstring>

#include "kernels/f16.h"

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

}  // namespace

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
