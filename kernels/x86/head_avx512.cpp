// Head GEMV/GEMM kernels for AVX-512. F32/F16: one row stream for one token; for several, F32 in
// blocks of 4 rows x 2 tokens, F16 converted once per 4 x 512 block for all tokens. Q8/Q4: int8
// activations, vpdpbusd over row groups of 16 rows. Rows are a multiple of 64 columns and x is
// zero padded.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/head.h"
#include "kernels/internal/dispatch.h"
#include "kernels/internal/head_blocks.h"
#include "kernels/internal/with_count.h"
#include "kernels/x86/avx512_intrinsics.h"

namespace ts::kernels::internal::avx512 {
namespace {

struct LoadF32 {
  static __m512 At(const void* row, int c) {
    return _mm512_load_ps(static_cast<const float*>(row) + c);
  }
};
struct LoadF16 {
  static __m512 At(const void* row, int c) {
    return _mm512_cvtph_ps(
        _mm256_load_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + c)));
  }
};

// Bytes ahead of a one-token pass that the kAmx table's variants prefetch into L1 and L2 (as the
// ternary GEMV's, ternary_gemm_avx512.cpp). F16 head, bench -t 1,2 -n 32 --head f16, A B x3:
// 10.7-10.8 / 20.4-20.6 -> 11.6-12.0 / 22.7-22.9 tok/s.
constexpr int kDeepPrefetchL1Bytes = 1024;
constexpr int kDeepPrefetchL2Bytes = 3072;

// F32 / F16, one token: two accumulators (32 columns per step) to hide FMA latency.
template <class Loader, int kElementBytes, bool kDeepPrefetch = false>
void FloatRowsGemv(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                   float* logits) {
  for (int r = row_begin; r < row_end; ++r) {
    const void* row =
        static_cast<const uint8_t*>(w_data) + static_cast<size_t>(r) * stride * kElementBytes;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int c = 0; c < stride; c += 32) {
      if constexpr (kDeepPrefetch) {  // rows are contiguous: this runs on into the next ones
        const char* at = static_cast<const char*>(row) + static_cast<size_t>(c) * kElementBytes;
        for (int line = 0; line < 32 * kElementBytes; line += 64) {
          _mm_prefetch(at + kDeepPrefetchL1Bytes + line, _MM_HINT_T0);
          _mm_prefetch(at + kDeepPrefetchL2Bytes + line, _MM_HINT_T1);
        }
      }
      acc0 = _mm512_fmadd_ps(Loader::At(row, c), _mm512_load_ps(x + c), acc0);
      acc1 = _mm512_fmadd_ps(Loader::At(row, c + 16), _mm512_load_ps(x + c + 16), acc1);
    }
    logits[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

// F32, several tokens: R <= 4 rows x T <= 2 tokens per pass over whole rows, as in the AVX2
// kernel: two tokens of x stay in L1, each x vector feeds R FMAs and each weight vector T. (One
// row x 4 tokens loaded an x vector per FMA and ran at half the AVX2 kernel's speed on Zen 4.)
template <class Loader, int kElementBytes, int R, int T>
void FloatBlock(const void* w_data, int stride, int r0, const float* x, int ld_x, float* logits,
                int ld_logits) {
  const uint8_t* rows[R];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    rows[i] =
        static_cast<const uint8_t*>(w_data) + static_cast<size_t>(r0 + i) * stride * kElementBytes;
  }
  __m512 acc[R][T];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    for (int t = 0; t < T; ++t) acc[i][t] = _mm512_setzero_ps();
  }
  for (int c = 0; c < stride; c += 16) {
    __m512 w[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) w[i] = Loader::At(rows[i], c);
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_load_ps(x + static_cast<size_t>(t) * ld_x + c);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) acc[i][t] = _mm512_fmadd_ps(w[i], xv, acc[i][t]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    for (int t = 0; t < T; ++t) {
      logits[static_cast<size_t>(t) * ld_logits + r0 + i] = _mm512_reduce_add_ps(acc[i][t]);
    }
  }
}

// F16, several tokens: 4 rows x kF16ChunkCols columns of weights are converted to f32 once, into
// an L1 buffer, and then meet every token, 4 at a time (16 accumulators, kept across chunks in
// `sums`), where FloatBlock converted each weight again for every pair of tokens (vcvtph2ps is
// two uops on the FMA ports on Sapphire Rapids). One core, BM_HeadGemm f16, A B x2: 8 tokens
// 24.9-25.4 -> 22.3-22.8 ms, 64 tokens 123-126 -> 115-119; bench -t 2 --head f16, A B x3: 8
// sequences 84.6-85.3 -> 88.8-89.9 tok/s, 16 sequences 119.8-120.7 -> 120.6-127.6.
//
// The conversion then waited on DRAM for 60% of the time (perf), the FMAs' time passing with no
// read in flight: the next chunk's lines are prefetched a few per FMA step (ChunkPrefetch), so
// that they arrive while the FMAs run. One core, 8 tokens, A B: 21.5-22.0 -> 18.4-18.7 ms, 4
// tokens 17.1 -> 15.5; bench -t 2 --head f16 -b 8: 91.9-92.4 -> 100.7-100.8 tok/s. Prefetches
// in the conversion instead, one or more chunks ahead (into L1 or L2), or two chunks ahead in
// the FMA steps, gained less (20.3-22 ms). Zen 4 not measured.
constexpr int kF16ChunkCols = 512;

// The lines of the chunk after the current one (in F16RowsGemm's order), handed out a few per
// FMA step of F16ChunkBlock.
struct ChunkPrefetch {
  static constexpr int kMaxLines = 4 * kF16ChunkCols * 2 / 64;
  const char* lines[kMaxLines];
  int n_lines = 0;
  int next = 0;
  int per_step = 0;

  void Step() {
    for (int k = 0; k < per_step && next < n_lines; ++k) _mm_prefetch(lines[next++], _MM_HINT_T0);
  }
};

// sums[t][i] += w[i][0 .. n_cols) x x[t * ld_x + 0 .. n_cols), per lane.
template <int R, int T>
void F16ChunkBlock(const float (*w)[kF16ChunkCols], int n_cols, const float* x, int ld_x,
                   __m512 (*sums)[4], ChunkPrefetch& prefetch) {
  __m512 acc[R][T];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    for (int t = 0; t < T; ++t) acc[i][t] = sums[t][i];
  }
  for (int c = 0; c < n_cols; c += 16) {
    prefetch.Step();
    __m512 wv[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) wv[i] = _mm512_load_ps(w[i] + c);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_loadu_ps(x + static_cast<size_t>(t) * ld_x + c);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) acc[i][t] = _mm512_fmadd_ps(wv[i], xv, acc[i][t]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    for (int t = 0; t < T; ++t) sums[t][i] = acc[i][t];
  }
}

// Fills `prefetch` with the lines of the chunk after (r0, c0): the same rows' next columns, or
// the next 4 rows' first (none past row_end), spread over the FMA steps of n_tok tokens.
void PlanChunkPrefetch(const uint16_t* w_data, int stride, int row_end, int r0, int c0, int n_tok,
                       ChunkPrefetch* prefetch) {
  int next_c0 = c0 + kF16ChunkCols;
  if (next_c0 >= stride) {
    next_c0 = 0;
    r0 += 4;
  }
  const int n_cols = std::min(kF16ChunkCols, stride - next_c0);
  prefetch->n_lines = 0;
  prefetch->next = 0;
  for (int r = r0; r < std::min(r0 + 4, row_end); ++r) {
    const char* at =
        reinterpret_cast<const char*>(w_data + static_cast<size_t>(r) * stride + next_c0);
    for (int byte = 0; byte < n_cols * 2; byte += 64) {
      prefetch->lines[prefetch->n_lines++] = at + byte;
    }
  }
  const int steps = std::min(kF16ChunkCols, stride - c0) / 16 * ((n_tok + 3) / 4);
  prefetch->per_step = (prefetch->n_lines + steps - 1) / steps;
}

void F16RowsGemm(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                 int ld_x, int n_tok, float* logits, int ld_logits) {
  const auto* w_f16 = static_cast<const uint16_t*>(w_data);
  alignas(64) float w[4][kF16ChunkCols];
  __m512 sums[kHeadTokenTile][4];  // [token][row]
  ChunkPrefetch prefetch;
  for (int r0 = row_begin; r0 < row_end; r0 += 4) {
    const int rows = std::min(4, row_end - r0);
    for (int t = 0; t < n_tok; ++t) {
      for (int i = 0; i < 4; ++i) sums[t][i] = _mm512_setzero_ps();
    }
    for (int c0 = 0; c0 < stride; c0 += kF16ChunkCols) {
      const int n_cols = std::min(kF16ChunkCols, stride - c0);  // a multiple of 64
      for (int i = 0; i < rows; ++i) {
        const void* row = w_f16 + static_cast<size_t>(r0 + i) * stride;
        for (int c = 0; c < n_cols; c += 16) _mm512_store_ps(w[i] + c, LoadF16::At(row, c0 + c));
      }
      PlanChunkPrefetch(w_f16, stride, row_end, r0, c0, n_tok, &prefetch);
      for (int t0 = 0; t0 < n_tok; t0 += 4) {
        WithCount<1, 4>(rows, [&](auto r) {
          WithCount<1, 4>(std::min(4, n_tok - t0), [&](auto t) {
            F16ChunkBlock<r(), t()>(w, n_cols, x + static_cast<size_t>(t0) * ld_x + c0, ld_x,
                                    sums + t0, prefetch);
          });
        });
      }
    }
    for (int t = 0; t < n_tok; ++t) {
      for (int i = 0; i < rows; ++i) {
        logits[static_cast<size_t>(t) * ld_logits + r0 + i] = _mm512_reduce_add_ps(sums[t][i]);
      }
    }
  }
}

// One token: the GEMV; several: blocks of rows x token pairs (F16: F16RowsGemm).
template <class Loader, int kElementBytes, bool kDeepPrefetch = false>
void FloatRows(const void* w_data, int stride, int row_begin, int row_end, const float* x, int ld_x,
               int n_tok, float* logits, int ld_logits) {
  if (n_tok == 1) {
    FloatRowsGemv<Loader, kElementBytes, kDeepPrefetch>(w_data, stride, row_begin, row_end, x,
                                                        logits);
    return;
  }
  if constexpr (std::is_same_v<Loader, LoadF16>) {
    F16RowsGemm(w_data, stride, row_begin, row_end, x, ld_x, n_tok, logits, ld_logits);
    return;
  }
  ForEachHeadBlock(row_begin, row_end, n_tok, [&](auto rows, auto tokens, int r0, int t0) {
    FloatBlock<Loader, kElementBytes, rows(), tokens()>(
        w_data, stride, r0, x + static_cast<size_t>(t0) * ld_x, ld_x,
        logits + static_cast<size_t>(t0) * ld_logits, ld_logits);
  });
}

// Weight decoders for QuantGroup: the unsigned codes (level + kOffset) of two 4-column steps
// (8 columns) of a row group (16 rows), in the row group layout of head.h.
struct Q8Steps {
  static constexpr int kOffset = 128;
  static constexpr int kPairBytes = 2 * 4 * kHeadRowGroup;
  static void Load(const uint8_t* group, int pair, __m512i* step0, __m512i* step1) {
    const uint8_t* p = group + static_cast<size_t>(pair) * kPairBytes;
    *step0 = _mm512_load_si512(p);
    *step1 = _mm512_load_si512(p + 4 * kHeadRowGroup);
  }
};
struct Q4Steps {
  static constexpr int kOffset = 8;
  static constexpr int kPairBytes = 4 * kHeadRowGroup;
  static void Load(const uint8_t* group, int pair, __m512i* step0, __m512i* step1) {
    // One step in the low nibbles, the next in the high ones.
    const __m512i bytes = _mm512_load_si512(group + static_cast<size_t>(pair) * kPairBytes);
    const __m512i low4 = _mm512_set1_epi8(15);
    *step0 = _mm512_and_si512(bytes, low4);
    *step1 = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4);
  }
};

// Q8 / Q4 over one row group (16 rows, one per int32 lane) and T tokens: per 4-column step,
// vpdpbusd multiplies the 16 rows' 4 codes by a token's 4 activation bytes broadcast to all
// lanes. The lanes start each block of 32 columns at -offset x (the block's activation sum) and
// end it scaled by the rows' and the token's block scales into float accumulators.
//
// Several tokens read the weights once (up to 8 per pass) and prefetch them kPrefetchBytes
// ahead: at ~13 cycles per 64-byte line (8 tokens) the hardware prefetchers alone let DRAM and
// the multipliers take turns (8 tokens from DRAM 20.6 MACs/cycle, from L3 38). One token keeps
// the hardware's pace on Zen 4 (a software prefetch slowed it from 27 to 23 GB/s). Sapphire
// Rapids wants more (kDeepPrefetch, the kAmx table's HeadGroupQ8Prefetched): the prefetch for
// one token too, and a second one into L2 3 KB ahead (bench -t 1,2 --head q8, A B x3: 1 thread
// 13.3-13.5 -> 13.6-13.8 tok/s for the first; then 14.1-14.4 -> 14.4-14.6, and 8 sequences
// 128.7-129.5 -> 130.2-134.9 at 2 threads, for the second).
//
// The per-token arrays are indexed only in pack expansions over t (compile-time indices), which
// GCC 12 compiles to tighter code than "#pragma GCC unroll" loops (64 tokens 37 -> 41 MACs/cycle).
constexpr int kPrefetchBytes = 1024;
// The kAmx variant's second prefetch, into L2, this much further ahead.
constexpr int kL2PrefetchExtraBytes = kDeepPrefetchL2Bytes - kPrefetchBytes;

template <class Steps, bool kDeepPrefetch, int T, int... t>
void QuantGroup(const uint8_t* group, const float* group_scales, int n_blocks,
                const HeadActivations& x, int stride, float (*out)[kHeadRowGroup],
                std::integer_sequence<int, t...>) {
  // Up to 4 tokens, two chains per token (even and odd steps): vpdpbusd's latency is several
  // cycles, so one chain per token would leave the multiplier idle. 5 to 8 tokens are enough
  // chains on their own, and two each would not fit the 32 registers.
  constexpr bool kTwoChains = T <= 4;
  const int8_t* xq[T] = {(x.q + static_cast<size_t>(t) * stride)...};
  __m512 acc[T];
  ((acc[t] = _mm512_setzero_ps()), ...);
  // chain += w x (token's 4 activation bytes at p, broadcast to all lanes)
  auto step = [](__m512i& chain, __m512i w, const int8_t* p) {
    int32_t x4;
    std::memcpy(&x4, p, sizeof(x4));
    chain = _mm512_dpbusd_epi32(chain, w, _mm512_set1_epi32(x4));
  };
  for (int b = 0; b < n_blocks; ++b) {
    __m512i even[T], odd[T];
    ((even[t] = _mm512_set1_epi32(-Steps::kOffset * x.sums[t * n_blocks + b])), ...);
    if constexpr (kTwoChains) ((odd[t] = _mm512_setzero_si512()), ...);
#pragma GCC unroll 4
    for (int pair = 4 * b; pair < 4 * b + 4; ++pair) {
      __m512i w0, w1;
      Steps::Load(group, pair, &w0, &w1);
      if constexpr (T >= 2 || kDeepPrefetch) {
        const uint8_t* ahead =
            group + static_cast<size_t>(pair) * Steps::kPairBytes + kPrefetchBytes;
        for (int line = 0; line < Steps::kPairBytes; line += 64) {
          _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T0);
          if constexpr (kDeepPrefetch) {
            _mm_prefetch(reinterpret_cast<const char*>(ahead + kL2PrefetchExtraBytes + line),
                         _MM_HINT_T1);
          }
        }
      }
      (step(even[t], w0, xq[t] + pair * 8), ...);
      (step(kTwoChains ? odd[t] : even[t], w1, xq[t] + pair * 8 + 4), ...);
    }
    const __m512 w_scale = _mm512_loadu_ps(group_scales + b * kHeadRowGroup);
    auto finish = [&](__m512& sum, __m512i dot0, __m512i dot1, float x_scale) {
      const __m512i dot = kTwoChains ? _mm512_add_epi32(dot0, dot1) : dot0;
      const __m512 scale = _mm512_mul_ps(w_scale, _mm512_set1_ps(x_scale));
      sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, sum);
    };
    (finish(acc[t], even[t], odd[t], x.scales[t * n_blocks + b]), ...);
  }
  (_mm512_storeu_ps(out[t], acc[t]), ...);
}

// One row group of a Q8 / Q4 head for n_tok (1..kHeadTokenTile) tokens.
template <class Steps, bool kDeepPrefetch = false>
void QuantGroupTokens(const uint8_t* group, const float* group_scales, int stride,
                      const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  const int n_blocks = stride / kHeadQ8Block;
  WithCount<1, kHeadTokenTile>(n_tok, [&](auto tokens) {
    QuantGroup<Steps, kDeepPrefetch, tokens()>(group, group_scales, n_blocks, x, stride, out,
                                               std::make_integer_sequence<int, tokens()>{});
  });
}

}  // namespace

void HeadGemmF32(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                 int ld_x, int n_tok, float* logits, int ld_logits) {
  FloatRows<LoadF32, 4>(w_data, stride, row_begin, row_end, x, ld_x, n_tok, logits, ld_logits);
}

void HeadGemmF16(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                 int ld_x, int n_tok, float* logits, int ld_logits) {
  FloatRows<LoadF16, 2>(w_data, stride, row_begin, row_end, x, ld_x, n_tok, logits, ld_logits);
}

void HeadGemmF16Prefetched(const void* w_data, int stride, int row_begin, int row_end,
                           const float* x, int ld_x, int n_tok, float* logits, int ld_logits) {
  FloatRows<LoadF16, 2, true>(w_data, stride, row_begin, row_end, x, ld_x, n_tok, logits,
                              ld_logits);
}

void HeadGroupQ8(const uint8_t* group, const float* group_scales, int stride,
                 const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroupTokens<Q8Steps>(group, group_scales, stride, x, n_tok, out);
}

void HeadGroupQ8Prefetched(const uint8_t* group, const float* group_scales, int stride,
                           const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroupTokens<Q8Steps, true>(group, group_scales, stride, x, n_tok, out);
}

void HeadGroupQ4(const uint8_t* group, const float* group_scales, int stride,
                 const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroupTokens<Q4Steps>(group, group_scales, stride, x, n_tok, out);
}

}  // namespace ts::kernels::internal::avx512
