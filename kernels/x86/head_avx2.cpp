// Head GEMV/GEMM kernels for AVX2 + FMA + F16C. One token is memory bound (a plain row stream);
// several tokens are compute bound (register blocks of rows x tokens). Rows are a multiple of
// 64 columns and x is zero padded, so there are no tails; Q8/Q4 rows come in groups of 16.
#include <immintrin.h>

#include <cstring>
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

// Weight decoders for QuantGroup: the unsigned codes (level + kOffset) of two 4-column steps
// (8 columns) of half a row group (8 rows), in the row group layout of head.h.
struct Q8Steps {
  static constexpr int kOffset = 128;
  static void Load(const uint8_t* group, int pair, int half, __m256i* step0, __m256i* step1) {
    const uint8_t* p = group + static_cast<size_t>(pair) * 2 * 4 * kHeadRowGroup + half * 32;
    *step0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
    *step1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 4 * kHeadRowGroup));
  }
};
struct Q4Steps {
  static constexpr int kOffset = 8;
  static void Load(const uint8_t* group, int pair, int half, __m256i* step0, __m256i* step1) {
    // One step in the low nibbles, the next in the high ones.
    const __m256i bytes = _mm256_load_si256(reinterpret_cast<const __m256i*>(
        group + static_cast<size_t>(pair) * 4 * kHeadRowGroup + half * 32));
    const __m256i low4 = _mm256_set1_epi8(15);
    *step0 = _mm256_and_si256(bytes, low4);
    *step1 = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
  }
};

// Q8 / Q4 over H halves (8 rows each, from half h0) of one row group and T tokens. Per 4-column
// step, each 32-byte weight vector holds 4 codes of each of 8 rows; vpmaddubsw multiplies them
// by a token's 4 activation bytes broadcast to all rows and vpmaddwd adds the pairs into the
// rows' int32 lanes, which start each block of 32 columns at -offset x (the block's activation
// sum). Then the lanes are scaled by the rows' and the token's block scales into float
// accumulators. Two byte-multiply ops per 32 products: Zen 3 runs those on two pipes only.
// Writes out[t][row in group].
template <class Steps, int H, int T>
void QuantGroup(const uint8_t* group, const float* group_scales, int n_blocks, int h0,
                const HeadActivations& x, int stride, float (*out)[kHeadRowGroup]) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[H][T];
#pragma GCC unroll 8
  for (int i = 0; i < H * T; ++i) acc[i / T][i % T] = _mm256_setzero_ps();
  for (int b = 0; b < n_blocks; ++b) {
    __m256i dots[H][T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m256i start = _mm256_set1_epi32(-Steps::kOffset * x.sums[t * n_blocks + b]);
#pragma GCC unroll 2
      for (int h = 0; h < H; ++h) dots[h][t] = start;
    }
#pragma GCC unroll 4
    for (int pair = 4 * b; pair < 4 * b + 4; ++pair) {
      __m256i w[H][2];
#pragma GCC unroll 2
      for (int h = 0; h < H; ++h) Steps::Load(group, pair, h0 + h, &w[h][0], &w[h][1]);
#pragma GCC unroll 2
      for (int k = 0; k < 2; ++k) {
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          int32_t x4;
          std::memcpy(&x4, x.q + static_cast<size_t>(t) * stride + pair * 8 + k * 4, sizeof(x4));
          const __m256i xb = _mm256_set1_epi32(x4);
#pragma GCC unroll 2
          for (int h = 0; h < H; ++h) {
            dots[h][t] = _mm256_add_epi32(
                dots[h][t], _mm256_madd_epi16(_mm256_maddubs_epi16(w[h][k], xb), ones));
          }
        }
      }
    }
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h) {
      const __m256 w_scale = _mm256_loadu_ps(group_scales + b * kHeadRowGroup + (h0 + h) * 8);
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m256 scale =
            _mm256_mul_ps(w_scale, _mm256_broadcast_ss(x.scales + t * n_blocks + b));
        acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots[h][t]), scale, acc[h][t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < H * T; ++i)
    _mm256_storeu_ps(out[i % T] + (h0 + i / T) * 8, acc[i / T][i % T]);
}

// One row group of a Q8 / Q4 head for n_tok (1..4) tokens. One or two tokens take both halves
// of the group per pass; three or four take a half per pass so their accumulators stay in
// registers.
template <class Steps>
void QuantGroupTokens(const uint8_t* group, const float* group_scales, int stride,
                      const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  const int n_blocks = stride / kHeadQ8Block;
  auto run = [&](auto halves, auto tokens, int h0) {
    QuantGroup<Steps, halves(), tokens()>(group, group_scales, n_blocks, h0, x, stride, out);
  };
  using std::integral_constant;
  switch (n_tok) {
    case 1:
      run(integral_constant<int, 2>{}, integral_constant<int, 1>{}, 0);
      break;
    case 2:
      run(integral_constant<int, 2>{}, integral_constant<int, 2>{}, 0);
      break;
    case 3:
      for (int h0 = 0; h0 < 2; ++h0)
        run(integral_constant<int, 1>{}, integral_constant<int, 3>{}, h0);
      break;
    default:
      for (int h0 = 0; h0 < 2; ++h0)
        run(integral_constant<int, 1>{}, integral_constant<int, 4>{}, h0);
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

void HeadGroupQ8(const uint8_t* group, const float* group_scales, int stride,
                 const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroupTokens<Q8Steps>(group, group_scales, stride, x, n_tok, out);
}

void HeadGroupQ4(const uint8_t* group, const float* group_scales, int stride,
                 const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroupTokens<Q4Steps>(group, group_scales, stride, x, n_tok, out);
}

}  // namespace ts::kernels::internal::avx2
