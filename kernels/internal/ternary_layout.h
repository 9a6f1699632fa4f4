// Internal: the packed ternary weight layout shared by PackTernary and every kernel.
//
// Weights are 2-bit codes t + 1 in {0, 1, 2} (t = -1, 0, +1). Columns are padded with zeros
// (code 1) to a multiple of kChunkCols = 256 and rows to a multiple of kRowBlock = 4.
//
//   packed = [n_row_blocks][n_chunks][kRowBlock][64 bytes]
//
// One 64-byte word holds the 256 codes of one row's chunk: byte j (0..63) holds columns
// j, j + 64, j + 128, j + 192 in bits [1:0], [3:2], [5:4], [7:6]. So `(word >> 2k) & 3` per byte
// gives the codes of 64 consecutive columns 64k .. 64k + 63, lined up with one 64-byte load of
// int8 activations (AVX-512), or two 32-byte halves (AVX2). The 4 rows of a block sit next to
// each other so a GEMV streams one contiguous region per block instead of 4 strided rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/internal/with_count.h"

namespace ts::kernels::internal {

inline constexpr int kChunkCols = 256;    // columns per 64-byte word (= kTernaryColAlign)
inline constexpr int kChunkBytes = 64;    // bytes per row per chunk
inline constexpr int kRowBlock = 4;       // rows interleaved chunk by chunk
inline constexpr int kMaxTokenTile = 8;   // most tokens one TernaryDots call handles

// AMX tiles (the kAmx ISA's GEMM, x86/ternary_gemm_amx.cpp): every tile is 16 rows of 64 bytes.
// A tile holds 16 weight rows' codes for a 64-column slice; a B tile a slice of 16 tokens'
// levels, 4 consecutive columns per token side by side (the layout tdpbusd multiplies):
//
//   tile activations = [slice s][token group g][column quad j][token t % 16][4 bytes]
//
// byte ((s * n_groups + g) * 16 + j) * 64 + 4 * (t % 16) + i holds the level of token
// t = 16 g + t % 16 at column 64 s + 4 j + i; tokens past the last are zeros.
inline constexpr int kTileRows = 16;  // rows of a tile = tokens of a token group
inline constexpr int kTileBytesPerRow = 64;
inline constexpr int kTileBytes = kTileRows * kTileBytesPerRow;
inline constexpr int kTileSliceCols = 64;  // columns one tile product adds up

// Calls fn(std::integral_constant<int, n_tok>{}) for 2 <= n_tok <= kMaxTokenTile (nothing
// otherwise), so an ISA's GEMM kernel is compiled once per tile width with unrolled token loops.
template <class Fn>
void WithTileWidth(int n_tok, Fn&& fn) {
  WithCount<2, kMaxTokenTile>(n_tok, fn);
}

// Bytes of one row block: n_chunks words for each of its kRowBlock rows.
inline size_t RowBlockBytes(int n_chunks) {
  return static_cast<size_t>(n_chunks) * kRowBlock * kChunkBytes;
}

// Returns the code (0, 1, 2) of (row, col) in a packed matrix with n_chunks chunks per row.
inline int CodeAt(const uint8_t* packed, int n_chunks, int row, int col) {
  const int block = row / kRowBlock, row_in_block = row % kRowBlock;
  const int chunk = col / kChunkCols, in_chunk = col % kChunkCols;
  const size_t word = (static_cast<size_t>(block) * n_chunks + chunk) * kRowBlock + row_in_block;
  const uint8_t byte = packed[word * kChunkBytes + in_chunk % kChunkBytes];
  return (byte >> (2 * (in_chunk / kChunkBytes))) & 3;
}

// The final scaling of an exact integer dot product, shared by every variant and the reference
// so outputs are bit-identical: (dot / s_x) * w_scale, then * row_scale (if any).
inline float FinishDot(int32_t dot, float x_scale, float w_scale) {
  return static_cast<float>(dot) / x_scale * w_scale;
}

}  // namespace ts::kernels::internal
