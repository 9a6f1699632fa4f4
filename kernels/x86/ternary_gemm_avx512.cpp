// TernaryDots for AVX-512 VNNI: vpdpbusd (unsigned codes x signed int8 activations, 4 products
// summed into each int32 lane). Compiled with -mavx512f/bw/vl/vnni/dq -mfma -mf16c.
//
// GEMV software prefetch: on Zen 4 with the weights in huge pages the hardware prefetchers alone
// streamed one core at ~27 GB/s, and prefetching 2-16 KB ahead gave 21-27, so TernaryDots has
// none. On Sapphire Rapids (the kAmx table) a prefetch 1 KB ahead took one core from 8.3 to 10.4
// GB/s on 2560 x 2560 and 11.2 to 12.5 on 6912 x 2560 (two cores 15.8 -> 19.4, 22.0 -> 24.6),
// and another into L2 3 KB ahead adds 10-20% to that (two cores, same window: 16.5 -> 20.4-21.3,
// 22.2-22.4 -> 21-27; 2 or 4 KB: 19.2-21.0, 23.2-26.0): TernaryDotsPrefetched.
//
// GEMV (1 token) skips the shifts: `word & (3 << 2k)` is code_k * 4^k, a u8 of at most 128, so
// vpdpbusd on the masked word gives 4^k times the true sum in its own accumulator, and
// (acc_k >> 2k) recovers it exactly (every term is a multiple of 4^k). Lane magnitudes stay below
// 2^31 for rows up to millions of columns. Results equal the scalar reference exactly.
#include "kernels/x86/avx512_intrinsics.h"

#include "kernels/internal/dispatch.h"
#include "kernels/internal/ternary_layout.h"

namespace ts::kernels::internal::avx512 {
namespace {

inline __m512i Load(const void* p) { return _mm512_loadu_si512(p); }

// One row's four GEMV accumulators: field k's sum times 4^k (see above). Named members, not an
// array, so GCC keeps all 16 of a block in registers.
struct FieldSums {
  __m512i k0 = _mm512_setzero_si512(), k1 = _mm512_setzero_si512();
  __m512i k2 = _mm512_setzero_si512(), k3 = _mm512_setzero_si512();

  void Add(__m512i w, __m512i a0, __m512i a1, __m512i a2, __m512i a3) {
    DotAccumulate(k0, _mm512_and_si512(w, _mm512_set1_epi8(0x03)), a0);
    DotAccumulate(k1, _mm512_and_si512(w, _mm512_set1_epi8(0x0C)), a1);
    DotAccumulate(k2, _mm512_and_si512(w, _mm512_set1_epi8(0x30)), a2);
    DotAccumulate(k3, _mm512_and_si512(w, _mm512_set1_epi8(static_cast<char>(0xC0))), a3);
  }
  int32_t Total() const {
    const __m512i low = _mm512_add_epi32(k0, _mm512_srai_epi32(k1, 2));
    const __m512i high = _mm512_add_epi32(_mm512_srai_epi32(k2, 4), _mm512_srai_epi32(k3, 6));
    return _mm512_reduce_add_epi32(_mm512_add_epi32(low, high));
  }
};

// Bytes ahead of the GEMV's reads that TernaryDotsPrefetched asks for into L1 (4 chunk steps)
// and into L2 (12).
constexpr size_t kGemvPrefetchL1Bytes = 1024;
constexpr size_t kGemvPrefetchL2Bytes = 3072;

template <bool kPrefetch>
void BlockGemv(const uint8_t* block, int n_chunks, const int8_t* q, int32_t* dots) {
  static_assert(kRowBlock == 4, "one FieldSums per row of a block");
  FieldSums r0, r1, r2, r3;
  for (int c = 0; c < n_chunks; ++c) {
    const uint8_t* words = block + static_cast<size_t>(c) * kRowBlock * kChunkBytes;
    if constexpr (kPrefetch) {
      // Past a matrix's end this touches other memory or none: a prefetch never faults.
      for (int line = 0; line < kRowBlock; ++line) {
        const uint8_t* at = words + line * kChunkBytes;
        _mm_prefetch(reinterpret_cast<const char*>(at + kGemvPrefetchL1Bytes), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(at + kGemvPrefetchL2Bytes), _MM_HINT_T1);
      }
    }
    const int8_t* qc = q + c * kChunkCols;
    const __m512i a0 = Load(qc), a1 = Load(qc + 64), a2 = Load(qc + 128), a3 = Load(qc + 192);
    r0.Add(Load(words), a0, a1, a2, a3);
    r1.Add(Load(words + kChunkBytes), a0, a1, a2, a3);
    r2.Add(Load(words + 2 * kChunkBytes), a0, a1, a2, a3);
    r3.Add(Load(words + 3 * kChunkBytes), a0, a1, a2, a3);
  }
  dots[0] += r0.Total();
  dots[1] += r1.Total();
  dots[2] += r2.Total();
  dots[3] += r3.Total();
}

// Returns the 16 horizontal sums of v[0..15] as one vector (lane k = sum of v[k]'s lanes) in
// 45 ops instead of 16 separate reductions: sum pairs within 128-bit lanes (unpack 32-bit, then
// 64-bit), then across lanes. Integer adds, so the sums equal _mm512_reduce_add_epi32's.
inline __m512i SixteenSums(const __m512i v[16]) {
  __m512i pairs[8], quads[4];
  for (int i = 0; i < 8; ++i) {  // lane j of 128 bits: [a0+a2, b0+b2, a1+a3, b1+b3]
    pairs[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
  }
  for (int i = 0; i < 4; ++i) {  // lane j: the 4 sums of lane j of v[4i .. 4i + 3]
    quads[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(pairs[2 * i], pairs[2 * i + 1]),
                                _mm512_unpackhi_epi64(pairs[2 * i], pairs[2 * i + 1]));
  }
  // Lanes (0 + 1, 2 + 3) of two quads side by side, then the same again: lane j = v[4j .. 4j + 3].
  const __m512i h0 = _mm512_add_epi32(_mm512_shuffle_i64x2(quads[0], quads[1], 0x88),
                                      _mm512_shuffle_i64x2(quads[0], quads[1], 0xDD));
  const __m512i h1 = _mm512_add_epi32(_mm512_shuffle_i64x2(quads[2], quads[3], 0x88),
                                      _mm512_shuffle_i64x2(quads[2], quads[3], 0xDD));
  return _mm512_add_epi32(_mm512_shuffle_i64x2(h0, h1, 0x88), _mm512_shuffle_i64x2(h0, h1, 0xDD));
}

// GEMM tile: 2 rows x T tokens of accumulators; codes decoded once per row and chunk, each
// activation vector loaded once for both rows.
//
// The first pass over a block touches only half of its cache lines (rows 0-1 of each chunk), a
// pattern the hardware prefetchers follow poorly: it prefetches the next block (`next`, may be
// null) chunk by chunk, one block ahead (the weights came from DRAM: 8 tokens lost ~20%).
template <int T>
void BlockGemm(const uint8_t* block, const uint8_t* next, int n_chunks, const int8_t* q,
               int32_t* dots, int ld_dots) {
  constexpr int kRows = 2;
  const __m512i mask = _mm512_set1_epi8(3);
  for (int i0 = 0; i0 < kRowBlock; i0 += kRows) {
    __m512i acc[kRows][T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < kRows; ++r) acc[r][t] = _mm512_setzero_si512();
    }
    for (int c = 0; c < n_chunks; ++c) {
      const uint8_t* words = block + (static_cast<size_t>(c) * kRowBlock + i0) * kChunkBytes;
      if (i0 == 0 && next != nullptr) {
        const uint8_t* ahead = next + static_cast<size_t>(c) * kRowBlock * kChunkBytes;
        for (int line = 0; line < kRowBlock; ++line) {
          _mm_prefetch(reinterpret_cast<const char*>(ahead + line * kChunkBytes), _MM_HINT_T0);
        }
      }
      const int8_t* qc = q + c * T * kChunkCols;  // the tile's chunk c, token by token
      __m512i codes[kRows][4];
#pragma GCC unroll 2
      for (int r = 0; r < kRows; ++r) {
        const __m512i w = Load(words + r * kChunkBytes);
        codes[r][0] = _mm512_and_si512(w, mask);
        codes[r][1] = _mm512_and_si512(_mm512_srli_epi16(w, 2), mask);
        codes[r][2] = _mm512_and_si512(_mm512_srli_epi16(w, 4), mask);
        codes[r][3] = _mm512_and_si512(_mm512_srli_epi16(w, 6), mask);
      }
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          __m512i a = Load(qc + t * kChunkCols + 64 * k);
          // One load for both rows: GCC would otherwise fold it into each vpdpbusd, and a 64-byte
          // load per vpdpbusd keeps Zen 4's load ports as busy as its multipliers (-14% speed).
          KeepInRegister(a);
          acc[0][t] = _mm512_dpbusd_epi32(acc[0][t], codes[0][k], a);
          acc[1][t] = _mm512_dpbusd_epi32(acc[1][t], codes[1][k], a);
        }
      }
    }
    __m512i all[16];  // accumulator (r, t) at 2t + r; zeros past T tokens
#pragma GCC unroll 16
    for (int k = 2 * T; k < 16; ++k) all[k] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < kRows; ++r) all[2 * t + r] = acc[r][t];
    }
    alignas(64) int32_t sums[16];
    _mm512_store_si512(sums, SixteenSums(all));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < kRows; ++r) dots[t * ld_dots + i0 + r] += sums[2 * t + r];
    }
  }
}

template <int T>
void GemmBlocks(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                const int8_t* q, int32_t* dots, int ld_dots) {
  for (int b = 0; b < n_blocks; ++b) {
    const uint8_t* next = b + 1 < n_blocks ? blocks + (b + 1) * block_stride : nullptr;
    BlockGemm<T>(blocks + b * block_stride, next, n_chunks, q, dots + b * kRowBlock, ld_dots);
  }
}

template <bool kPrefetch>
void Dots(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks, const int8_t* q,
          int n_tok, int32_t* dots, int ld_dots) {
  if (n_tok == 1) {
    for (int b = 0; b < n_blocks; ++b) {
      BlockGemv<kPrefetch>(blocks + b * block_stride, n_chunks, q, dots + b * kRowBlock);
    }
    return;
  }
  WithTileWidth(n_tok, [&](auto tile) {
    GemmBlocks<tile()>(blocks, block_stride, n_chunks, n_blocks, q, dots, ld_dots);
  });
}

}  // namespace

void TernaryDots(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                 const int8_t* q, int n_tok, int32_t* dots, int ld_dots) {
  Dots<false>(blocks, block_stride, n_chunks, n_blocks, q, n_tok, dots, ld_dots);
}

void TernaryDotsPrefetched(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                           const int8_t* q, int n_tok, int32_t* dots, int ld_dots) {
  Dots<true>(blocks, block_stride, n_chunks, n_blocks, q, n_tok, dots, ld_dots);
}

}  // namespace ts::kernels::internal::avx512
