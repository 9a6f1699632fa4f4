// TernaryDots for AVX2: vpmaddubsw (unsigned 2-bit codes x signed int8 activations -> int16
// pairs) then vpmaddwd by 1 into int32. Compiled with -mavx2 -mfma -mf16c.
//
// Overflow: a maddubs lane of codes (<= 2) is at most 2 * 2 * 128 = 512 in magnitude (2048 for
// the 4x codes of the GEMV); each kernel bounds how many it adds in int16 before widening (see
// BlockGemv, BlockGemm), so nothing saturates and the int32 result equals the scalar reference.
#include <immintrin.h>

#include <cstdint>

#include "kernels/internal/dispatch.h"
#include "kernels/internal/ternary_layout.h"

namespace ts::kernels::internal::avx2 {
namespace {

inline int32_t HorizontalSum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// How far ahead of the weight stream the GEMV prefetches: 16 row blocks of 2560 columns. On the
// Zen 3 dev box a software prefetch cut the single-core cold GEMV time by ~20% (CPU time).
constexpr int kPrefetchBytes = 4096;

inline __m256i Load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// GEMV: one token, the 4 rows of a block together so the block's bytes stream in order.
// Decoding is the hot spot (memory delivers ~7 bytes/cycle/core), so it uses one shift per
// 32 bytes instead of three: the low nibble of each byte holds (c0, c1) and, after a 16-bit shift
// by 4, the high nibble holds (c2, c3). `& 0x03` gives c0 / c2 directly; `& 0x0C` gives 4 * c1 /
// 4 * c3, whose products are summed apart and divided by 4 once per chunk (exact: every term is
// a multiple of 4). Bounds per chunk: low sums <= 4 * 512, high sums <= 4 * 2048 in int16.
void BlockGemv(const uint8_t* block, int n_chunks, const int8_t* q, int32_t* dots) {
  const __m256i low2 = _mm256_set1_epi8(0x03);
  const __m256i high2 = _mm256_set1_epi8(0x0C);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[kRowBlock];
  for (int i = 0; i < kRowBlock; ++i) acc[i] = _mm256_setzero_si256();
  for (int c = 0; c < n_chunks; ++c) {
    const uint8_t* words = block + static_cast<size_t>(c) * kRowBlock * kChunkBytes;
    const int8_t* qc = q + c * kChunkCols;
    for (int line = 0; line < kRowBlock; ++line) {
      _mm_prefetch(reinterpret_cast<const char*>(words + kPrefetchBytes + line * 64), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int i = 0; i < kRowBlock; ++i) {
      const __m256i w0 = Load(words + i * kChunkBytes);       // columns j, j+64, j+128, j+192
      const __m256i w1 = Load(words + i * kChunkBytes + 32);  // the same for j + 32
      const __m256i h0 = _mm256_srli_epi16(w0, 4);
      const __m256i h1 = _mm256_srli_epi16(w1, 4);
      const __m256i low = _mm256_add_epi16(
          _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(w0, low2), Load(qc)),
                           _mm256_maddubs_epi16(_mm256_and_si256(w1, low2), Load(qc + 32))),
          _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(h0, low2), Load(qc + 128)),
                           _mm256_maddubs_epi16(_mm256_and_si256(h1, low2), Load(qc + 160))));
      const __m256i high = _mm256_add_epi16(
          _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(w0, high2), Load(qc + 64)),
                           _mm256_maddubs_epi16(_mm256_and_si256(w1, high2), Load(qc + 96))),
          _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(h0, high2), Load(qc + 192)),
                           _mm256_maddubs_epi16(_mm256_and_si256(h1, high2), Load(qc + 224))));
      const __m256i sum16 = _mm256_add_epi16(low, _mm256_srai_epi16(high, 2));
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(sum16, ones));
    }
  }
  for (int i = 0; i < kRowBlock; ++i) dots[i] += HorizontalSum(acc[i]);
}

// GEMM tile: one row at a time, its codes decoded once per 32 bytes and reused for T <= 8
// tokens. Zen 3 retires about 3 vector ops per cycle when maddubs and adds mix, so the loop is
// built to spend as few ops per maddubs as possible: activations are folded into maddubs as
// memory operands (no separate loads), products are summed in int16 (one add each, no madd
// per step) and widened to int32 only every kWidenChunks chunks. Bound: a maddubs lane is at
// most 2 * 2 * 128 = 512 in magnitude and each accumulator takes 8 per chunk, so 7 chunks add
// at most 56 * 512 = 28672 < 32767. Registers: T accumulators + 4 codes + word + mask.
constexpr int kWidenChunks = 7;

template <int T>
void BlockGemm(const uint8_t* block, int n_chunks, const int8_t* q, int32_t* dots, int ld_dots,
               uintptr_t prefetch) {
  const __m256i mask = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int i = 0; i < kRowBlock; ++i) {
    __m256i wide[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) wide[t] = _mm256_setzero_si256();
    for (int c0 = 0; c0 < n_chunks; c0 += kWidenChunks) {
      const int c1 = c0 + kWidenChunks < n_chunks ? c0 + kWidenChunks : n_chunks;
      __m256i acc[T];
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
      for (int c = c0; c < c1; ++c) {
        const size_t offset = (static_cast<size_t>(c) * kRowBlock + i) * kChunkBytes;
        const uint8_t* word = block + offset;
        _mm_prefetch(reinterpret_cast<const char*>(prefetch + offset), _MM_HINT_T0);
        const int8_t* qc = q + c * T * kChunkCols;  // the tile's chunk c, token by token
        for (int h = 0; h < 2; ++h) {
          const __m256i w = Load(word + 32 * h);
          const __m256i code[4] = {_mm256_and_si256(w, mask),
                                   _mm256_and_si256(_mm256_srli_epi16(w, 2), mask),
                                   _mm256_and_si256(_mm256_srli_epi16(w, 4), mask),
                                   _mm256_and_si256(_mm256_srli_epi16(w, 6), mask)};
#pragma GCC unroll 8
          for (int t = 0; t < T; ++t) {
            const int8_t* a = qc + t * kChunkCols + 32 * h;
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
              acc[t] = _mm256_add_epi16(acc[t], _mm256_maddubs_epi16(code[k], Load(a + 64 * k)));
            }
            // Keep this order: left alone, GCC re-associates the sums into trees of products
            // that need more than 16 registers and spills them.
            asm("" : "+x"(acc[t]));
          }
        }
      }
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        wide[t] = _mm256_add_epi32(wide[t], _mm256_madd_epi16(acc[t], ones));
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) dots[t * ld_dots + i] += HorizontalSum(wide[t]);
  }
}

// Batched decode reads each weight once per step but consumes it slowly (8 tokens of work per
// byte), and the hardware prefetchers then fell behind: with weights beyond L3 the 8-token GEMM
// ran ~35% slower than with weights in cache. A software prefetch 2 row blocks (~5 us of work)
// ahead closes most of that gap.
constexpr int kGemmPrefetchBlocks = 2;

template <int T>
void GemmBlocks(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                const int8_t* q, int32_t* dots, int ld_dots) {
  for (int b = 0; b < n_blocks; ++b) {
    // The same bytes kGemmPrefetchBlocks row blocks ahead (uintptr_t: near the end of the
    // matrix that is past it, which a prefetch may touch but a pointer may not point to).
    const uintptr_t ahead = reinterpret_cast<uintptr_t>(blocks) + (b + kGemmPrefetchBlocks) * block_stride;
    BlockGemm<T>(blocks + b * block_stride, n_chunks, q, dots + b * kRowBlock, ld_dots, ahead);
  }
}

}  // namespace

void TernaryDots(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                 const int8_t* q, int n_tok, int32_t* dots, int ld_dots) {
  if (n_tok == 1) {
    for (int b = 0; b < n_blocks; ++b) {
      BlockGemv(blocks + b * block_stride, n_chunks, q, dots + b * kRowBlock);
    }
    return;
  }
  WithTileWidth(n_tok, [&](auto tile) {
    GemmBlocks<tile()>(blocks, block_stride, n_chunks, n_blocks, q, dots, ld_dots);
  });
}

}  // namespace ts::kernels::internal::avx2
