// Head GEMV/GEMM kernels for AVX-512: each weight vector is converted to float once and
// multiplied into up to 4 tokens. Rows are a multiple of 64 columns and x is zero padded.
#include "kernels/x86/avx512_intrinsics.h"

#include "kernels/head.h"
#include "kernels/internal/dispatch.h"

namespace ts::kernels::internal::avx512 {
namespace {

struct LoadF32 {
  static __m512 At(const void* row, int c) {
    return _mm512_load_ps(static_cast<const float*>(row) + c);
  }
};
struct LoadF16 {
  static __m512 At(const void* row, int c) {
    return _mm512_cvtph_ps(_mm256_load_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + c)));
  }
};

// F32 / F16: two accumulators per token (32 columns per step) to hide FMA latency.
template <class Loader, int kElementBytes, int T>
void FloatRows(const void* w_data, int stride, int row_begin, int row_end, const float* x,
               int ld_x, float* logits, int ld_logits) {
  for (int r = row_begin; r < row_end; ++r) {
    const void* row = static_cast<const uint8_t*>(w_data) +
                      static_cast<size_t>(r) * stride * kElementBytes;
    __m512 acc[T][2];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int c = 0; c < stride; c += 32) {
      const __m512 w0 = Loader::At(row, c);
      const __m512 w1 = Loader::At(row, c + 16);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const float* xt = x + static_cast<size_t>(t) * ld_x + c;
        acc[t][0] = _mm512_fmadd_ps(w0, _mm512_load_ps(xt), acc[t][0]);
        acc[t][1] = _mm512_fmadd_ps(w1, _mm512_load_ps(xt + 16), acc[t][1]);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      logits[static_cast<size_t>(t) * ld_logits + r] =
          _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
    }
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

void HeadGemmF32(const void* w_data, int stride, int row_begin, int row_end,
                 const float* x, int ld_x, int n_tok, float* logits, int ld_logits) {
#define TS_CALL(T) FloatRows<LoadF32, 4, T>(w_data, stride, row_begin, row_end, x, ld_x, logits, ld_logits)
  TS_HEAD_SWITCH(TS_CALL)
#undef TS_CALL
}

void HeadGemmF16(const void* w_data, int stride, int row_begin, int row_end,
                 const float* x, int ld_x, int n_tok, float* logits, int ld_logits) {
#define TS_CALL(T) FloatRows<LoadF16, 2, T>(w_data, stride, row_begin, row_end, x, ld_x, logits, ld_logits)
  TS_HEAD_SWITCH(TS_CALL)
#undef TS_CALL
}

#undef TS_HEAD_SWITCH

}  // namespace ts::kernels::internal::avx512
