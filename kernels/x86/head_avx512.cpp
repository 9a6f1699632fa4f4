// Head GEMV/GEMM kernels for AVX-512. F32/F16: each weight vector is converted to float once
// and multiplied into up to 4 tokens. Q8/Q4: int8 activations, vpdpbusd over two blocks per
// vector. Rows are a multiple of 64 columns and x is zero padded.
#include "kernels/x86/avx512_intrinsics.h"

#include <vector>

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

// Q8 / Q4 weights, two blocks (64 columns) per vector as signed bytes.
struct Q8Pair {
  static constexpr int kBytes = 2 * kHeadQ8Block;
  static __m512i Load(const uint8_t* p) { return _mm512_load_si512(p); }
};
struct Q4Pair {
  static constexpr int kBytes = kHeadQ8Block;  // two blocks of 16 bytes
  static __m512i Load(const uint8_t* p) {
    // A block's 16 bytes hold its columns 0-15 in the low nibbles and 16-31 in the high ones;
    // the vector's 128-bit lanes want [b low, b high, b+1 low, b+1 high]. Levels are code - 8.
    const __m256i bytes = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
    const __m512i twice = _mm512_inserti64x4(_mm512_castsi256_si512(bytes), bytes, 1);
    const __m512i lanes = _mm512_shuffle_i64x2(twice, twice, _MM_SHUFFLE(3, 1, 2, 0));  // b, b, b+1, b+1
    const __m512i nibbles = _mm512_mask_blend_epi64(0xCC, lanes, _mm512_srli_epi16(lanes, 4));
    return _mm512_sub_epi8(_mm512_and_si512(nibbles, _mm512_set1_epi8(15)), _mm512_set1_epi8(8));
  }
};

// Returns [s[0] x 8, s[1] x 8]: the scales of a block pair, each over its block's lanes.
inline __m512 PairScales(const float* s) {
  return _mm512_insertf32x8(_mm512_set1_ps(s[0]), _mm256_set1_ps(s[1]), 1);
}

// Q8 / Q4 with int8 activations. Per block pair and token: x carrying w's sign (AVX-512 has no
// vpsignb; a masked subtract from zero negates x where w < 0), vpdpbusd with |w| (4 products
// per int32 lane; lanes 0-7 belong to the first block, 8-15 to the second), then the lanes are
// scaled by their block's w scale x x scale into a float accumulator.
template <class Pair, int T>
void QuantRows(const uint8_t* w_data, const float* w_scales, int stride, int row_begin,
               int row_end, const int8_t* xq, const float* x_scales, float* logits, int ld_logits) {
  const int n_blocks = stride / kHeadQ8Block;  // even: rows are a multiple of 64 columns
  const int n_pairs = n_blocks / 2;
  // The tokens' block-pair scale vectors, built once per call instead of per row.
  thread_local std::vector<float> x_pair_scales;
  x_pair_scales.resize(static_cast<size_t>(T) * n_pairs * 16);
  for (int t = 0; t < T; ++t) {
    for (int p = 0; p < n_pairs; ++p) {
      _mm512_storeu_ps(x_pair_scales.data() + (static_cast<size_t>(t) * n_pairs + p) * 16,
                       PairScales(x_scales + t * n_blocks + 2 * p));
    }
  }
  const __m512i zero = _mm512_setzero_si512();
  for (int r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w_data + static_cast<size_t>(r) * n_pairs * Pair::kBytes;
    const float* row_scales = w_scales + static_cast<size_t>(r) * n_blocks;
    __m512 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int p = 0; p < n_pairs; ++p) {
      const __m512i w = Pair::Load(row + p * Pair::kBytes);
      const __m512i w_abs = _mm512_abs_epi8(w);
      const __mmask64 negative = _mm512_movepi8_mask(w);
      const __m512 d = PairScales(row_scales + 2 * p);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m512i x = _mm512_load_si512(xq + static_cast<size_t>(t) * stride + p * 2 * kHeadQ8Block);
        const __m512i dots = _mm512_dpbusd_epi32(zero, w_abs, _mm512_mask_sub_epi8(x, negative, zero, x));
        const __m512 scale =
            _mm512_mul_ps(d, _mm512_loadu_ps(x_pair_scales.data() + (static_cast<size_t>(t) * n_pairs + p) * 16));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots), scale, acc[t]);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) logits[static_cast<size_t>(t) * ld_logits + r] = _mm512_reduce_add_ps(acc[t]);
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

// QuantRows for n_tok (1..4) tokens of the Q8 or Q4 head.
template <class Block>
void QuantGemm(const void* w_data, const float* w_scales, int stride, int row_begin, int row_end,
               const int8_t* xq, const float* x_scales, int n_tok, float* logits, int ld_logits) {
  const auto* q = static_cast<const uint8_t*>(w_data);
#define TS_CALL(T) QuantRows<Block, T>(q, w_scales, stride, row_begin, row_end, xq, x_scales, logits, ld_logits)
  TS_HEAD_SWITCH(TS_CALL)
#undef TS_CALL
}

void HeadGemmQ8(const void* w_data, const float* w_scales, int stride, int row_begin,
                int row_end, const int8_t* xq, const float* x_scales, int n_tok, float* logits,
                int ld_logits) {
  QuantGemm<Q8Pair>(w_data, w_scales, stride, row_begin, row_end, xq, x_scales, n_tok, logits, ld_logits);
}

void HeadGemmQ4(const void* w_data, const float* w_scales, int stride, int row_begin,
                int row_end, const int8_t* xq, const float* x_scales, int n_tok, float* logits,
                int ld_logits) {
  QuantGemm<Q4Pair>(w_data, w_scales, stride, row_begin, row_end, xq, x_scales, n_tok, logits, ld_logits);
}

#undef TS_HEAD_SWITCH

}  // namespace ts::kernels::internal::avx512
