// Head GEMV/GEMM kernels for AVX2 + FMA + F16C: each weight vector is converted to float once
// and multiplied into up to 4 tokens. Memory bound at one token; rows are a multiple of 64
// columns and x is zero padded, so there are no tails.
#include <immintrin.h>

#include "kernels/head.h"
#include "kernels/internal/dispatch.h"

namespace ts::kernels::internal::avx2 {
namespace {

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Loads 8 weights as floats from element index c of a row.
struct LoadF32 {
  static __m256 At(const void* row, int c) {
    return _mm256_load_ps(static_cast<const float*>(row) + c);
  }
};
struct LoadF16 {
  static __m256 At(const void* row, int c) {
    return _mm256_cvtph_ps(
        _mm_load_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + c)));
  }
};

// F32 / F16: two accumulators per token (16 columns per step) to hide FMA latency.
template <class Loader, int kElementBytes, int T>
void FloatRows(const void* w_data, int stride, int row_begin, int row_end, const float* x,
               int ld_x, float* logits, int ld_logits) {
  for (int r = row_begin; r < row_end; ++r) {
    const void* row = static_cast<const uint8_t*>(w_data) +
                      static_cast<size_t>(r) * stride * kElementBytes;
    __m256 acc[T][2];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    for (int c = 0; c < stride; c += 16) {
      const __m256 w0 = Loader::At(row, c);
      const __m256 w1 = Loader::At(row, c + 8);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const float* xt = x + static_cast<size_t>(t) * ld_x + c;
        acc[t][0] = _mm256_fmadd_ps(w0, _mm256_load_ps(xt), acc[t][0]);
        acc[t][1] = _mm256_fmadd_ps(w1, _mm256_load_ps(xt + 8), acc[t][1]);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      logits[static_cast<size_t>(t) * ld_logits + r] =
          HorizontalSum(_mm256_add_ps(acc[t][0], acc[t][1]));
    }
  }
}

inline __m256 Int8x8ToFloat(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

template <int T>
void Q8Rows(const int8_t* w_data, const float* scales, int stride, int row_begin, int row_end,
            const float* x, int ld_x, float* logits, int ld_logits) {
  const int n_blocks = stride / kHeadQ8Block;
  for (int r = row_begin; r < row_end; ++r) {
    const int8_t* row = w_data + static_cast<size_t>(r) * stride;
    const float* row_scales = scales + static_cast<size_t>(r) * n_blocks;
    __m256 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < n_blocks; ++b) {
      const int c = b * kHeadQ8Block;
      const __m256 w0 = Int8x8ToFloat(row + c), w1 = Int8x8ToFloat(row + c + 8);
      const __m256 w2 = Int8x8ToFloat(row + c + 16), w3 = Int8x8ToFloat(row + c + 24);
      const __m256 d = _mm256_broadcast_ss(row_scales + b);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const float* xt = x + static_cast<size_t>(t) * ld_x + c;
        const __m256 s01 = _mm256_fmadd_ps(w1, _mm256_load_ps(xt + 8), _mm256_mul_ps(w0, _mm256_load_ps(xt)));
        const __m256 s23 =
            _mm256_fmadd_ps(w3, _mm256_load_ps(xt + 24), _mm256_mul_ps(w2, _mm256_load_ps(xt + 16)));
        acc[t] = _mm256_fmadd_ps(d, _mm256_add_ps(s01, s23), acc[t]);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) logits[static_cast<size_t>(t) * ld_logits + r] = HorizontalSum(acc[t]);
  }
}

}  // namespace

#define TS_HEAD_SWITCH(CALL)   \
  switch (n_tok) {             \
    case 1: CALL(1); break;    \
    case 2: CALL(2); break;    \
    case 3: CALL(3); break;    \
    default: CALL(4); break;   \
  }

void HeadGemmF32(const void* w_data, const float*, int stride, int row_begin, int row_end,
                 const float* x, int ld_x, int n_tok, float* logits, int ld_logits) {
#define TS_CALL(T) FloatRows<LoadF32, 4, T>(w_data, stride, row_begin, row_end, x, ld_x, logits, ld_logits)
  TS_HEAD_SWITCH(TS_CALL)
#undef TS_CALL
}

void HeadGemmF16(const void* w_data, const float*, int stride, int row_begin, int row_end,
                 const float* x, int ld_x, int n_tok, float* logits, int ld_logits) {
#define TS_CALL(T) FloatRows<LoadF16, 2, T>(w_data, stride, row_begin, row_end, x, ld_x, logits, ld_logits)
  TS_HEAD_SWITCH(TS_CALL)
#undef TS_CALL
}

void HeadGemmQ8(const void* w_data, const float* scales, int stride, int row_begin, int row_end,
                const float* x, int ld_x, int n_tok, float* logits, int ld_logits) {
  const int8_t* q = static_cast<const int8_t*>(w_data);
#define TS_CALL(T) Q8Rows<T>(q, scales, stride, row_begin, row_end, x, ld_x, logits, ld_logits)
  TS_HEAD_SWITCH(TS_CALL)
#undef TS_CALL
}

#undef TS_HEAD_SWITCH

}  // namespace ts::kernels::internal::avx2
