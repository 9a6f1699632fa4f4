// TernaryTileDots for AMX-INT8 (Sapphire Rapids on): tdpbusd multiplies a 16 x 64 tile of
// unsigned codes by a 64 x 16 tile of signed activations, 16384 multiply-adds per instruction
// where vpdpbusd does 64. Compiled with -mamx-tile -mamx-int8 -mavx512f -mavx512bw.
//
// AMX reads tiles from memory only, so the 2-bit codes of 32 rows are unpacked to one byte each
// into a buffer first (A tiles: 16 rows x one 64-column slice; field k of a packed word is the
// slice of columns 64k .. 64k + 63 of its chunk, see ternary_layout.h, so a shift and a mask
// give a tile row). That costs the same for 1 token or 1000, so it pays once a few tokens
// share it. The activations come as B tiles (the tile activations of ternary_layout.h), made once
// per call.
//
// Tiles: C (int32 sums, 16 rows x 16 tokens) 0..3 for row half h and token group g at 2g + h;
// A (codes) 4 and 5 for the two row halves; B (activations) 6 and 7 for the two token groups.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/aligned_buffer.h"
#include "kernels/internal/dispatch.h"
#include "kernels/internal/ternary_layout.h"

namespace ts::kernels::internal::amx {
namespace {

constexpr int kGroupBlocks = kTileRows / kRowBlock * 2;  // row blocks of 32 rows (two A tiles)
constexpr int kGroupRows = kGroupBlocks * kRowBlock;
constexpr int kFields = kChunkCols / kTileSliceCols;  // slices per packed chunk
// Bytes of one chunk's unpacked codes: [field][32 rows][64 columns].
constexpr size_t kChunkCodeBytes = static_cast<size_t>(kFields) * kGroupRows * kTileSliceCols;

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// Every tile used is 16 rows of 64 bytes.
TileConfig MakeConfig() {
  TileConfig config;
  for (int tile = 0; tile < 8; ++tile) {
    config.bytes_per_row[tile] = kTileBytesPerRow;
    config.rows[tile] = kTileRows;
  }
  return config;
}

// Writes the codes of chunk c of the group's rows (n_blocks <= kGroupBlocks row blocks; rows
// past them are zeros) to out [field][kGroupRows][64], and prefetches chunk c + 1's words: the
// group reads 8 row blocks side by side, 256 bytes of each per chunk, which the hardware
// prefetchers follow poorly (one core, 6912 x 2560 from DRAM, 8 tokens: 780 -> 627 us; two or
// four chunks ahead: 686 / 776; the next group's bytes in order instead: 747).
void UnpackChunk(const uint8_t* group, size_t block_stride, int n_blocks, int c, uint8_t* out) {
  const __m512i mask = _mm512_set1_epi8(3);
  constexpr size_t kFieldBytes = static_cast<size_t>(kGroupRows) * kTileSliceCols;
  for (int i = 0; i < n_blocks * kRowBlock; ++i) {
    const uint8_t* word = group + (i / kRowBlock) * block_stride +
                          (static_cast<size_t>(c) * kRowBlock + i % kRowBlock) * kChunkBytes;
    // Past the group's last chunk this is the next row block's first: a prefetch never faults.
    _mm_prefetch(reinterpret_cast<const char*>(word + kRowBlock * kChunkBytes), _MM_HINT_T0);
    const __m512i w = _mm512_loadu_si512(word);
    uint8_t* row = out + static_cast<size_t>(i) * kTileSliceCols;
    _mm512_store_si512(row, _mm512_and_si512(w, mask));
    _mm512_store_si512(row + kFieldBytes, _mm512_and_si512(_mm512_srli_epi16(w, 2), mask));
    _mm512_store_si512(row + 2 * kFieldBytes, _mm512_and_si512(_mm512_srli_epi16(w, 4), mask));
    _mm512_store_si512(row + 3 * kFieldBytes, _mm512_and_si512(_mm512_srli_epi16(w, 6), mask));
  }
  for (int i = n_blocks * kRowBlock; i < kGroupRows; ++i) {
    for (int f = 0; f < kFields; ++f) {
      _mm512_store_si512(out + f * kFieldBytes + static_cast<size_t>(i) * kTileSliceCols,
                         _mm512_setzero_si512());
    }
  }
}

// Adds chunk c's products to the C tiles of token groups g0 and (if two_groups) g0 + 1: codes
// from UnpackChunk's layout, activations in ternary_layout.h's tile layout.
void MultiplyChunk(const uint8_t* codes, const int8_t* q, int n_token_groups, int c, int g0,
                   bool two_groups) {
  constexpr size_t kHalfBytes = static_cast<size_t>(kTileRows) * kTileSliceCols;
  for (int f = 0; f < kFields; ++f) {
    const uint8_t* a = codes + f * 2 * kHalfBytes;
    const int8_t* b = q + (static_cast<size_t>(c * kFields + f) * n_token_groups + g0) * kTileBytes;
    _tile_loadd(4, a, kTileBytesPerRow);
    _tile_loadd(5, a + kHalfBytes, kTileBytesPerRow);
    _tile_loadd(6, b, kTileBytesPerRow);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 5, 6);
    if (two_groups) {
      _tile_loadd(7, b + kTileBytes, kTileBytesPerRow);
      _tile_dpbusd(2, 4, 7);
      _tile_dpbusd(3, 5, 7);
    }
  }
}

void ZeroSums() {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
}

// Copies C tile (row half h, tokens t0 .. t0 + n_tok - 1) to dots, rows below n_rows only.
void StoreTile(const int32_t (&sums)[kTileRows][kTileRows], int h, int t0, int n_tok, int n_rows,
               int32_t* dots, int ld_dots) {
  for (int t = 0; t < n_tok; ++t) {
    for (int i = 0; i < kTileRows && h * kTileRows + i < n_rows; ++i) {
      dots[static_cast<size_t>(t0 + t) * ld_dots + h * kTileRows + i] = sums[i][t];
    }
  }
}

// Moves the C tiles of token groups g0 (and g0 + 1) to dots and zeroes them. (The tile
// intrinsics take tile numbers as literals.)
void FlushTiles(int g0, bool two_groups, int n_tok, int n_rows, int32_t* dots, int ld_dots) {
  alignas(64) int32_t sums[kTileRows][kTileRows];
  auto store = [&](int h, int g) {
    const int t0 = g * kTileRows;
    StoreTile(sums, h, t0, std::min(kTileRows, n_tok - t0), n_rows, dots, ld_dots);
  };
  _tile_stored(0, sums, kTileBytesPerRow);
  store(0, g0);
  _tile_stored(1, sums, kTileBytesPerRow);
  store(1, g0);
  if (two_groups) {
    _tile_stored(2, sums, kTileBytesPerRow);
    store(0, g0 + 1);
    _tile_stored(3, sums, kTileBytesPerRow);
    store(1, g0 + 1);
  }
  ZeroSums();
}

}  // namespace

void TernaryTileDots(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                     const int8_t* q, int n_tok, int32_t* dots, int ld_dots) {
  static const TileConfig kConfig = MakeConfig();
  thread_local AlignedBuffer<uint8_t> codes;  // one chunk, or every chunk of a group
  const int n_token_groups = (n_tok + kTileRows - 1) / kTileRows;
  // Up to two token groups fit the C tiles at once: one pass over the chunks, unpacking each
  // into a buffer that stays in L1. More: unpack the group's every chunk once, then pass over
  // them for each pair of token groups.
  const bool one_pass = n_token_groups <= 2;
  const size_t codes_bytes = kChunkCodeBytes * (one_pass ? 1 : static_cast<size_t>(n_chunks));
  if (codes.size() < codes_bytes) codes.Resize(codes_bytes);

  _tile_loadconfig(&kConfig);
  ZeroSums();
  for (int b0 = 0; b0 < n_blocks; b0 += kGroupBlocks) {
    const int group_blocks = std::min(kGroupBlocks, n_blocks - b0);
    const uint8_t* group = blocks + b0 * block_stride;
    int32_t* group_dots = dots + b0 * kRowBlock;
    const int n_rows = group_blocks * kRowBlock;
    if (one_pass) {
      for (int c = 0; c < n_chunks; ++c) {
        UnpackChunk(group, block_stride, group_blocks, c, codes.data());
        MultiplyChunk(codes.data(), q, n_token_groups, c, 0, n_token_groups == 2);
      }
      FlushTiles(0, n_token_groups == 2, n_tok, n_rows, group_dots, ld_dots);
      continue;
    }
    for (int c = 0; c < n_chunks; ++c) {
      UnpackChunk(group, block_stride, group_blocks, c, codes.data() + c * kChunkCodeBytes);
    }
    for (int g0 = 0; g0 < n_token_groups; g0 += 2) {
      const bool two_groups = g0 + 1 < n_token_groups;
      for (int c = 0; c < n_chunks; ++c) {
        MultiplyChunk(codes.data() + c * kChunkCodeBytes, q, n_token_groups, c, g0, two_groups);
      }
      FlushTiles(g0, two_groups, n_tok, n_rows, group_dots, ld_dots);
    }
  }
  _tile_release();
}

}  // namespace ts::kernels::internal::amx
