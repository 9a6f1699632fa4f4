// Activation quantization row kernels for AVX-512. Same float operations as the scalar kernel
// (multiply, clamp, truncate, step by the fraction), so q is bit-identical; tails use masks.
#include "kernels/x86/avx512_intrinsics.h"

#include "kernels/internal/dispatch.h"

namespace ts::kernels::internal::avx512 {
namespace {

inline __mmask16 TailMask(int remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xFFFF)
                         : static_cast<__mmask16>((1u << remaining) - 1u);
}

}  // namespace

float AbsMax(const float* x, int n) {
  __m512 m = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_maskz_loadu_ps(TailMask(n - i), x + i)));
  }
  return _mm512_reduce_max_ps(m);
}

int32_t QuantizeRow(const float* x, int n, float s, int8_t* q) {
  const __m512 sv = _mm512_set1_ps(s);
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  const __m512 half = _mm512_set1_ps(0.5f), minus_half = _mm512_set1_ps(-0.5f);
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512i sum = _mm512_setzero_si512();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    const __m512 v =
        _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), sv), lo), hi);
    const __m512 whole = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_sub_ps(v, whole);
    __m512 rounded = _mm512_mask_add_ps(whole, _mm512_cmp_ps_mask(frac, half, _CMP_GE_OQ), whole, one);
    rounded = _mm512_mask_sub_ps(rounded, _mm512_cmp_ps_mask(frac, minus_half, _CMP_LE_OQ), rounded, one);
    const __m512i ints = _mm512_cvttps_epi32(rounded);
    sum = _mm512_add_epi32(sum, ints);  // masked-off lanes loaded 0 and stay 0
    _mm512_mask_cvtsepi32_storeu_epi8(q + i, m, ints);
  }
  return _mm512_reduce_add_epi32(sum);
}

}  // namespace ts::kernels::internal::avx512
