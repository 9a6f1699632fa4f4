// Head GEMV/GEMM kernels for AVX2 + FMA + F16C. One token is memory bound (a plain row stream);
// several tokens are compute bound (register blocks of rows x tokens). Rows are a multiple of
// 64 columns and x is zero padded, so there are no tails.
#include <immintrin.h>

#include <type_traits>

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

// F32 / F16, one token: four accumulators (32 columns per step). With two, the FMA latency
// (4 cycles per 16 columns) capped an F16 row stream at ~8 bytes/cycle, about what one core's
// share of DRAM delivers, so decode lost ~10% to it.
template <class Loader, int kElementBytes>
void FloatRowsGemv(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                   float* logits) {
  for (int r = row_begin; r < row_end; ++r) {
    const void* row = static_cast<const uint8_t*>(w_data) +
                      static_cast<size_t>(r) * stride * kElementBytes;
    __m256 acc[4];
    for (__m256& a : acc) a = _mm256_setzero_ps();
    for (int c = 0; c < stride; c += 32) {
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        acc[k] = _mm256_fmadd_ps(Loader::At(row, c + 8 * k), _mm256_load_ps(x + c + 8 * k), acc[k]);
      }
    }
    logits[r] = HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  }
}

// Several tokens: R <= 4 rows x T <= 2 tokens per pass over whole rows. Two tokens of x
// (2 x 10 KB for d_model 2560) stay in L1, each x vector feeds R FMAs and each weight vector
// T, and the R x T accumulators are independent chains that hide the FMA latency. (One row x
// 4 tokens read every x vector from L2 per FMA and ran at ~1 FMA per cycle; column blocks that
// keep x in L1 instead cut the weight reads into pieces the prefetchers did not follow.)
template <class Loader, int kElementBytes, int R, int T>
void FloatBlock(const void* w_data, int stride, int r0, const float* x, int ld_x, float* logits,
                int ld_logits) {
  const uint8_t* rows[R];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    rows[i] = static_cast<const uint8_t*>(w_data) + static_cast<size_t>(r0 + i) * stride * kElementBytes;
  }
  __m256 acc[R][T];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    for (int t = 0; t < T; ++t) acc[i][t] = _mm256_setzero_ps();
  }
  for (int c = 0; c < stride; c += 8) {
    __m256 w[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) w[i] = Loader::At(rows[i], c);
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_load_ps(x + static_cast<size_t>(t) * ld_x + c);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) acc[i][t] = _mm256_fmadd_ps(w[i], xv, acc[i][t]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    for (int t = 0; t < T; ++t) {
      logits[static_cast<size_t>(t) * ld_logits + r0 + i] = HorizontalSum(acc[i][t]);
    }
  }
}

// Calls fn(Rows, Tokens, r0, t0) over rows [row_begin, row_end) in groups of up to 4 and tokens
// in groups of up to 2; Rows and Tokens are std::integral_constant so the kernels unroll.
template <class Fn>
void ForEachBlock(int row_begin, int row_end, int n_tok, Fn&& fn) {
  using std::integral_constant;
  for (int r0 = row_begin; r0 < row_end; r0 += 4) {
    for (int t0 = 0; t0 < n_tok; t0 += 2) {
      const int rows = row_end - r0 < 4 ? row_end - r0 : 4;
      const bool pair = n_tok - t0 >= 2;
      auto with_rows = [&](auto r) {
        pair ? fn(r, integral_constant<int, 2>{}, r0, t0) : fn(r, integral_constant<int, 1>{}, r0, t0);
      };
      switch (rows) {
        case 1: with_rows(integral_constant<int, 1>{}); break;
        case 2: with_rows(integral_constant<int, 2>{}); break;
        case 3: with_rows(integral_constant<int, 3>{}); break;
        default: with_rows(integral_constant<int, 4>{}); break;
      }
    }
  }
}

// Block decoders for QuantRows: the 32 weights of a block as signed bytes.
struct Q8Block {
  static constexpr int kBytes = kHeadQ8Block;
  static __m256i Load(const uint8_t* block) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(block));
  }
};
struct Q4Block {
  static constexpr int kBytes = kHeadQ8Block / 2;
  static __m256i Load(const uint8_t* block) {
    // Columns 0-15 in the low nibbles, 16-31 in the high ones; levels are code - 8.
    const __m128i bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(block));
    const __m256i codes = _mm256_and_si256(
        _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes), _mm256_set1_epi8(15));
    return _mm256_sub_epi8(codes, _mm256_set1_epi8(8));
  }
};

// Q8 / Q4 with int8 activations: per block and token, vpmaddubsw multiplies |w| by x carrying
// w's sign (|w|, |x| <= 127, so the pair sums fit int16), vpmaddwd widens to int32, and the
// block's sum is scaled by both block scales into a float accumulator. The weights of a block
// are decoded once for up to 4 tokens.
template <class Block, int T>
void QuantRows(const uint8_t* w_data, const float* w_scales, int stride, int row_begin,
               int row_end, const int8_t* xq, const float* x_scales, float* logits, int ld_logits) {
  const int n_blocks = stride / kHeadQ8Block;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w_data + static_cast<size_t>(r) * n_blocks * Block::kBytes;
    const float* row_scales = w_scales + static_cast<size_t>(r) * n_blocks;
    // Even and odd blocks feed two accumulators per token, so the FMA latency does not set the
    // pace of a 1-token row stream (n_blocks is even: rows are a multiple of 64 columns).
    __m256 acc[T][2];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    for (int b0 = 0; b0 < n_blocks; b0 += 2) {
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        const int b = b0 + half;
        const __m256i w = Block::Load(row + b * Block::kBytes);
        const __m256i w_abs = _mm256_sign_epi8(w, w);
        const __m256 d = _mm256_broadcast_ss(row_scales + b);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          const __m256i x = _mm256_load_si256(
              reinterpret_cast<const __m256i*>(xq + static_cast<size_t>(t) * stride + b * kHeadQ8Block));
          const __m256i dots =
              _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(x, w)), ones);
          const __m256 scale = _mm256_mul_ps(d, _mm256_broadcast_ss(x_scales + t * n_blocks + b));
          acc[t][half] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots), scale, acc[t][half]);
        }
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      logits[static_cast<size_t>(t) * ld_logits + r] = HorizontalSum(_mm256_add_ps(acc[t][0], acc[t][1]));
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

void HeadGemmF32(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                 int ld_x, int n_tok, float* logits, int ld_logits) {
  if (n_tok == 1) {
    FloatRowsGemv<LoadF32, 4>(w_data, stride, row_begin, row_end, x, logits);
    return;
  }
  ForEachBlock(row_begin, row_end, n_tok, [&](auto rows, auto tokens, int r0, int t0) {
    FloatBlock<LoadF32, 4, rows(), tokens()>(w_data, stride, r0, x + static_cast<size_t>(t0) * ld_x,
                                             ld_x, logits + static_cast<size_t>(t0) * ld_logits, ld_logits);
  });
}

void HeadGemmF16(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                 int ld_x, int n_tok, float* logits, int ld_logits) {
  if (n_tok == 1) {
    FloatRowsGemv<LoadF16, 2>(w_data, stride, row_begin, row_end, x, logits);
    return;
  }
  ForEachBlock(row_begin, row_end, n_tok, [&](auto rows, auto tokens, int r0, int t0) {
    FloatBlock<LoadF16, 2, rows(), tokens()>(w_data, stride, r0, x + static_cast<size_t>(t0) * ld_x,
                                             ld_x, logits + static_cast<size_t>(t0) * ld_logits, ld_logits);
  });
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
  QuantGemm<Q8Block>(w_data, w_scales, stride, row_begin, row_end, xq, x_scales, n_tok, logits, ld_logits);
}

void HeadGemmQ4(const void* w_data, const float* w_scales, int stride, int row_begin,
                int row_end, const int8_t* xq, const float* x_scales, int n_tok, float* logits,
                int ld_logits) {
  QuantGemm<Q4Block>(w_data, w_scales, stride, row_begin, row_end, xq, x_scales, n_tok, logits, ld_logits);
}

#undef TS_HEAD_SWITCH

}  // namespace ts::kernels::internal::avx2
