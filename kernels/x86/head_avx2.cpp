// Head GEMV/GEMM kernels for AVX2 + FMA + F16C. One token is memory bound (a plain row stream);
// several tokens are compute bound (register blocks of rows x tokens). Rows are a multiple of
// 64 columns and x is zero padded, so there are no tails; Q8/Q4 rows come in groups of 16.
#include <immintrin.h>

#include <cstring>

#include "kernels/head.h"
#include "kernels/internal/dispatch.h"
#include "kernels/internal/head_blocks.h"

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

// Weight decoders for QuantGroup: the unsigned codes (level + kOffset) of one 4-column step of
// half a row group (8 rows x 4 columns), in the row group layout of head.h. Steps come in pairs
// (8 columns); k picks the pair's first or second step.
struct Q8Steps {
  static constexpr int kOffset = 128;
  static __m256i Load(const uint8_t* group, int pair, int k, int half) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(
        group + (static_cast<size_t>(pair) * 2 + k) * 4 * kHeadRowGroup + half * 32));
  }
};
struct Q4Steps {
  static constexpr int kOffset = 8;
  static __m256i Load(const uint8_t* group, int pair, int k, int half) {
    // A pair's first step in the low nibbles, the second in the high ones.
    const __m256i bytes = _mm256_load_si256(reinterpret_cast<const __m256i*>(
        group + static_cast<size_t>(pair) * 4 * kHeadRowGroup + half * 32));
    const __m256i low4 = _mm256_set1_epi8(15);
    return _mm256_and_si256(k == 0 ? bytes : _mm256_srli_epi16(bytes, 4), low4);
  }
};

// Q8 / Q4 over one row group (two halves of 8 rows) and T <= 4 tokens. Per 4-column step, a
// 32-byte weight vector holds 4 codes of each of 8 rows; vpmaddubsw multiplies them by a
// token's 4 activation bytes broadcast to all rows and vpmaddwd adds the pairs into the rows'
// int32 lanes, which start each block of 32 columns at -offset x (the block's activation sum).
// Then the lanes are scaled by the rows' and the token's block scales into float sums kept in
// `out` (the 2 x T int32 lanes fill the registers). Zen 3 issues vpmaddubsw and vpmaddwd on two
// pipes only and also spends an op on every broadcast, so each broadcast feeds both halves:
// per 64 products 1 broadcast, 2 x (vpmaddubsw, vpmaddwd, vpaddd).
template <class Steps, int T>
void QuantGroup(const uint8_t* group, const float* group_scales, int n_blocks,
                const HeadActivations& x, int stride, float (*out)[kHeadRowGroup]) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int t = 0; t < T; ++t) {
    _mm256_storeu_ps(out[t], _mm256_setzero_ps());
    _mm256_storeu_ps(out[t] + 8, _mm256_setzero_ps());
  }
  for (int b = 0; b < n_blocks; ++b) {
    __m256i dots[2][T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      dots[0][t] = dots[1][t] = _mm256_set1_epi32(-Steps::kOffset * x.sums[t * n_blocks + b]);
    }
#pragma GCC unroll 4
    for (int pair = 4 * b; pair < 4 * b + 4; ++pair) {
#pragma GCC unroll 2
      for (int k = 0; k < 2; ++k) {
        const __m256i w0 = Steps::Load(group, pair, k, 0);
        const __m256i w1 = Steps::Load(group, pair, k, 1);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          int32_t x4;
          std::memcpy(&x4, x.q + static_cast<size_t>(t) * stride + pair * 8 + k * 4, sizeof(x4));
          const __m256i xb = _mm256_set1_epi32(x4);
          dots[0][t] =
              _mm256_add_epi32(dots[0][t], _mm256_madd_epi16(_mm256_maddubs_epi16(w0, xb), ones));
          dots[1][t] =
              _mm256_add_epi32(dots[1][t], _mm256_madd_epi16(_mm256_maddubs_epi16(w1, xb), ones));
          // Keep this order: left alone, GCC interleaves the tokens' chains, runs out of the
          // 16 registers and spills the sums.
          asm("" : "+x"(dots[0][t]), "+x"(dots[1][t]));
        }
      }
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256 w_scale = _mm256_loadu_ps(group_scales + b * kHeadRowGroup + h * 8);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        // (w_scale * x_scale) * dot, as the scalar and AVX-512 kernels round it.
        const __m256 scale =
            _mm256_mul_ps(w_scale, _mm256_broadcast_ss(x.scales + t * n_blocks + b));
        _mm256_storeu_ps(out[t] + h * 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots[h][t]), scale,
                                                         _mm256_loadu_ps(out[t] + h * 8)));
      }
    }
  }
}

// One row group of a Q8 / Q4 head for n_tok (1..4) tokens (the table's head_token_tile).
template <class Steps>
void QuantGroupTokens(const uint8_t* group, const float* group_scales, int stride,
                      const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  const int n_blocks = stride / kHeadQ8Block;
  switch (n_tok) {
    case 1:
      QuantGroup<Steps, 1>(group, group_scales, n_blocks, x, stride, out);
      break;
    case 2:
      QuantGroup<Steps, 2>(group, group_scales, n_blocks, x, stride, out);
      break;
    case 3:
      QuantGroup<Steps, 3>(group, group_scales, n_blocks, x, stride, out);
      break;
    default:
      QuantGroup<Steps, 4>(group, group_scales, n_blocks, x, stride, out);
      break;
  }
}

}  // namespace

void HeadGemmF32(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                 int ld_x, int n_tok, float* logits, int ld_logits) {
  if (n_tok == 1) {
    FloatRowsGemv<LoadF32, 4>(w_data, stride, row_begin, row_end, x, logits);
    return;
  }
  ForEachHeadBlock(row_begin, row_end, n_tok, [&](auto rows, auto tokens, int r0, int t0) {
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
  ForEachHeadBlock(row_begin, row_end, n_tok, [&](auto rows, auto tokens, int r0, int t0) {
    FloatBlock<LoadF16, 2, rows(), tokens()>(w_data, stride, r0, x + static_cast<size_t>(t0) * ld_x,
                                             ld_x, logits + static_cast<size_t>(t0) * ld_logits, ld_logits);
  });
}

void HeadGroupQ8(const uint8_t* group, const float* group_scales, int stride,
                 const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroupTokens<Q8Steps>(group, group_scales, stride, x, n_tok, out);
}

void HeadGroupQ4(const uint8_t* group, const float* group_scales, int stride,
                 const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroupTokens<Q4Steps>(group, group_scales, stride, x, n_tok, out);
}

}  // namespace ts::kernels::internal::avx2
