// Internal: the table of per-ISA kernel entry points, and the functions each ISA file exports.
// Not part of the public API; include only from kernels/*.cpp and kernels/x86/*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu.h"
#include "kernels/head.h"

namespace ts::kernels::internal {

// Raw ternary dot products over n_chunks 256-column chunks of n_blocks row blocks (see
// ternary_layout.h) for n_tok <= kMaxTokenTile tokens, ADDED to dots:
// dots[t * ld_dots + i] += sum_c code(row i)[c] * x_t[c]  (codes in {0,1,2}, no -sum(x)).
// blocks points at the first chunk of the first row block; row blocks are block_stride bytes
// apart (so a call may cover a column range of a wider matrix); q points at the same column of
// the token tile, stored chunk by chunk: column j of chunk c of token t is
// q[(c * n_tok + t) * kChunkCols + j] (for one token, its plain row). One pointer then reaches
// every token's activations at fixed offsets, which the AVX2 GEMM needs to stay in registers.
using TernaryDotsFn = void (*)(const uint8_t* blocks, size_t block_stride, int n_chunks,
                               int n_blocks, const int8_t* q, int n_tok, int32_t* dots,
                               int ld_dots);

// The same raw dots (codes x levels, no -sum(x)) for any number of tokens with AMX tiles, WRITTEN
// to dots: q holds the tile activations of ternary_layout.h (n_tok tokens, n_chunks chunks).
using TernaryTileDotsFn = void (*)(const uint8_t* blocks, size_t block_stride, int n_chunks,
                                   int n_blocks, const int8_t* q, int n_tok, int32_t* dots,
                                   int ld_dots);

// F32/F16 head GEMV/GEMM over rows [row_begin, row_end): logits[t * ld_logits + r] =
// dot(W[r], x[t]). w_data rows are `stride` elements (see head.h); x rows are `ld_x` floats,
// zero padded to the row stride.
using HeadGemmFn = void (*)(const void* w_data, int stride, int row_begin, int row_end,
                            const float* x, int ld_x, int n_tok, float* logits, int ld_logits);

// The int8 activations a Q8/Q4 head multiplies, per token: `stride` levels, and per block of
// kHeadQ8Block columns their scale and the sum of the block's levels.
struct HeadActivations {
  const int8_t* q;      // [n_tok, stride]
  const float* scales;  // [n_tok, stride / kHeadQ8Block]
  const int32_t* sums;  // [n_tok, stride / kHeadQ8Block]
};

// Q8/Q4 head GEMM of one row group (kHeadRowGroup rows in head.h's layout) with int8
// activations: out[t][i] = sum_b scale[b][i] * x.scales[t, b] * dot(Wq[i, b], x.q[t, b]) over
// blocks b of kHeadQ8Block columns (integer dots), for t < n_tok (1..the table's
// head_token_tile, at most kHeadTokenTile).
inline constexpr int kHeadTokenTile = 8;
using HeadQuantGroupFn = void (*)(const uint8_t* group, const float* group_scales, int stride,
                                  const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]);

// Returns max |x[i]| over n values (0 for n == 0).
using AbsMaxFn = float (*)(const float* x, int n);
// q[i] = clamp(round_half_away(x[i] * s), -128, 127); returns sum of q.
using QuantizeRowFn = int32_t (*)(const float* x, int n, float s, int8_t* q);

struct KernelTable {
  Isa isa;
  TernaryDotsFn ternary_dots;
  HeadGemmFn head_f32;
  HeadGemmFn head_f16;
  HeadQuantGroupFn head_q8;
  HeadQuantGroupFn head_q4;
  // Most tokens one head kernel call takes (<= kHeadTokenTile): a Q8/Q4 call reads its row
  // group once for all of them, so as many as the registers hold (AVX-512: 8, AVX2: 4).
  int head_token_tile;
  TernaryTileDotsFn ternary_tile_dots;  // null where the ISA has no tiles
  AbsMaxFn abs_max;
  QuantizeRowFn quantize_row;
};

// Returns the table of the active ISA.
const KernelTable& ActiveTable();

#define TS_DECLARE_KERNELS(ns)                                                                 \
  namespace ns {                                                                               \
  void TernaryDots(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,     \
                   const int8_t* q, int n_tok, int32_t* dots, int ld_dots);                    \
  void HeadGemmF32(const void* w_data, int stride, int row_begin, int row_end, const float* x, \
                   int ld_x, int n_tok, float* logits, int ld_logits);                         \
  void HeadGemmF16(const void* w_data, int stride, int row_begin, int row_end, const float* x, \
                   int ld_x, int n_tok, float* logits, int ld_logits);                         \
  void HeadGroupQ8(const uint8_t* group, const float* group_scales, int stride,                \
                   const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]);          \
  void HeadGroupQ4(const uint8_t* group, const float* group_scales, int stride,                \
                   const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]);          \
  float AbsMax(const float* x, int n);                                                         \
  int32_t QuantizeRow(const float* x, int n, float s, int8_t* q);                              \
  }

TS_DECLARE_KERNELS(scalar)
TS_DECLARE_KERNELS(avx2)
TS_DECLARE_KERNELS(avx512)

#undef TS_DECLARE_KERNELS

namespace avx512 {
// TernaryDots with a software prefetch in the GEMV (the kAmx table: Intel's cores want it).
void TernaryDotsPrefetched(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                           const int8_t* q, int n_tok, int32_t* dots, int ld_dots);
// HeadGemmF16 with the same prefetches for one token (the kAmx table).
void HeadGemmF16Prefetched(const void* w_data, int stride, int row_begin, int row_end,
                           const float* x, int ld_x, int n_tok, float* logits, int ld_logits);
// HeadGroupQ8 with a software prefetch for one token too and a second one into L2 (the kAmx
// table, as above).
void HeadGroupQ8Prefetched(const uint8_t* group, const float* group_scales, int stride,
                           const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]);
}  // namespace avx512

namespace amx {
void TernaryTileDots(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                     const int8_t* q, int n_tok, int32_t* dots, int ld_dots);
}  // namespace amx

}  // namespace ts::kernels::internal
