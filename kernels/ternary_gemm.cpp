// Ternary GEMM: the threaded driver (shared by all ISAs), the float-activation variant, the
// reference, and the scalar TernaryDots kernel.
#include "kernels/ternary_gemm.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "kernels/internal/dispatch.h"
#include "kernels/internal/ternary_layout.h"

namespace ts::kernels {

using internal::kChunkBytes;
using internal::kChunkCols;
using internal::kMaxTokenTile;
using internal::kRowBlock;

namespace {

// Row blocks per strip: a strip's weights (64 rows x n_cols / 4 bytes: 40 KB for 2560 columns,
// 110 KB for 6912) stay in L2 while every token tile of a prefill batch passes over them, so a
// weight is fetched from memory once per call rather than once per token tile.
constexpr int kStripBlocks = 16;
constexpr int kStripRows = kStripBlocks * kRowBlock;
// Chunks per column block of a GEMM call: 10 x 256 columns x 8 tokens = 20 KB of activations,
// which stay in L1 while the strip's weights for those columns stream from L2. Without it the
// 6912-wide down projection (55 KB per token tile) ran ~30% slower per MAC. A GEMV streams each
// row block whole instead (one contiguous read, which the prefetchers like best).
constexpr int kGemmColumnChunks = 10;
// Fewest tokens for the tile kernel (where the ISA has one): it unpacks every weight to a byte
// first, a fixed cost the vector GEMM beats for few tokens. bench -t 2 --head q8 on Sapphire
// Rapids, tiles vs vectors, tokens/s: 2 sequences 38 vs 43, 4: 72 vs 74, 6: 102 vs 96, 8: 129
// vs 107.
constexpr int kTileMinTokens = 5;

void CheckShapes(const TernaryMatrix& w, const QuantizedActivations& x, int ld_y) {
  if (x.n_cols != w.n_cols || x.n_cols_padded != w.n_cols_padded()) {
    throw std::invalid_argument("TernaryGemm: activation width does not match the matrix");
  }
  if (x.n_tokens > 1 && ld_y < w.n_rows) throw std::invalid_argument("TernaryGemm: ld_y < n_rows");
}

// Returns x's levels as TernaryDots takes them: tiles of up to kMaxTokenTile tokens, each stored
// chunk by chunk (dispatch.h); tile t0 starts at t0 * n_cols_padded. One token is its own row.
const int8_t* TileActivations(const QuantizedActivations& x) {
  if (x.n_tokens == 1) return x.q.data();
  thread_local AlignedBuffer<int8_t> tiles;
  const int n_chunks = x.n_cols_padded / kChunkCols;
  tiles.ResizeForOverwrite(static_cast<size_t>(x.n_tokens) * x.n_cols_padded);  // all copied below
  for (int t0 = 0; t0 < x.n_tokens; t0 += kMaxTokenTile) {
    const int n_tok = std::min(kMaxTokenTile, x.n_tokens - t0);
    int8_t* tile = tiles.data() + static_cast<size_t>(t0) * x.n_cols_padded;
    for (int c = 0; c < n_chunks; ++c) {
      for (int t = 0; t < n_tok; ++t) {
        std::memcpy(tile + (static_cast<size_t>(c) * n_tok + t) * kChunkCols,
                    x.q.data() + static_cast<size_t>(t0 + t) * x.n_cols_padded + c * kChunkCols,
                    kChunkCols);
      }
    }
  }
  return tiles.data();
}

// y rows [row0, row0 + n_rows) of tokens t0 .. t0 + n_tok - 1 from their raw dots (codes x
// levels): dots[t * ld_dots + i] for token t0 + t and row row0 + i.
void FinishRows(const TernaryMatrix& w, const QuantizedActivations& x, const int32_t* dots,
                int ld_dots, int t0, int n_tok, int row0, int n_rows, float* y, int ld_y) {
  const bool has_row_scale = !w.row_scale.empty();
  for (int t = 0; t < n_tok; ++t) {
    const int32_t sum_q = x.sum[t0 + t];
    const float x_scale = x.scale[t0 + t];
    const int32_t* dot_row = dots + static_cast<size_t>(t) * ld_dots;
    float* y_row = y + static_cast<size_t>(t0 + t) * ld_y + row0;
    for (int i = 0; i < n_rows; ++i) {
      // codes are t + 1, so sum(code * q) - sum(q) = sum(t * q)
      float v = internal::FinishDot(dot_row[i] - sum_q, x_scale, w.scale);
      if (has_row_scale) v *= w.row_scale[row0 + i];
      y_row[i] = v;
    }
  }
}

// Calls fn(strip, n_blocks, row0, n_rows) for each strip of up to kStripBlocks row blocks in w's
// blocks [block_begin, block_end): strip points at its first block, whose first row is row0;
// n_rows counts its rows inside the matrix.
template <class Fn>
void ForEachStrip(const TernaryMatrix& w, int block_begin, int block_end, Fn&& fn) {
  const size_t block_bytes = internal::RowBlockBytes(w.n_cols_padded() / kChunkCols);
  for (int b = block_begin; b < block_end; b += kStripBlocks) {
    const int n_blocks = std::min(kStripBlocks, block_end - b);
    const int row0 = b * kRowBlock;
    fn(w.packed.data() + b * block_bytes, n_blocks, row0,
       std::min(n_blocks * kRowBlock, w.n_rows - row0));
  }
}

// One thread's share: row blocks [block_begin, block_end), all tokens; q_tiles from
// TileActivations(x).
void GemmRange(const internal::KernelTable& table, const TernaryMatrix& w,
               const QuantizedActivations& x, const int8_t* q_tiles, float* y, int ld_y,
               int block_begin, int block_end) {
  thread_local AlignedBuffer<int32_t> dots;  // [kMaxTokenTile, kStripRows]
  if (dots.size() < static_cast<size_t>(kMaxTokenTile * kStripRows)) {
    dots.Resize(static_cast<size_t>(kMaxTokenTile * kStripRows));
  }
  const int n_chunks = w.n_cols_padded() / kChunkCols;
  const size_t block_bytes = internal::RowBlockBytes(n_chunks);
  auto strip_products = [&](const uint8_t* strip, int n_blocks, int row0, int n_rows) {
    for (int t0 = 0; t0 < x.n_tokens; t0 += kMaxTokenTile) {
      const int n_tok = std::min(kMaxTokenTile, x.n_tokens - t0);
      std::fill(dots.data(), dots.data() + static_cast<size_t>(n_tok) * kStripRows, 0);
      const int column_chunks = n_tok == 1 ? n_chunks : kGemmColumnChunks;
      for (int c0 = 0; c0 < n_chunks; c0 += column_chunks) {
        const int n_cols_chunks = std::min(column_chunks, n_chunks - c0);
        table.ternary_dots(strip + internal::RowBlockBytes(c0), block_bytes, n_cols_chunks,
                           n_blocks,
                           q_tiles + static_cast<size_t>(t0) * x.n_cols_padded +
                               static_cast<size_t>(c0) * n_tok * kChunkCols,
                           n_tok, dots.data(), kStripRows);
      }
      FinishRows(w, x, dots.data(), kStripRows, t0, n_tok, row0, n_rows, y, ld_y);
    }
  };
  ForEachStrip(w, block_begin, block_end, strip_products);
}

// The tile GEMM's activations (ternary_layout.h): x's levels as B tiles of 16 tokens.
const int8_t* TileActivationsAmx(const QuantizedActivations& x) {
  thread_local AlignedBuffer<int8_t> tiles;
  const int n_slices = x.n_cols_padded / internal::kTileSliceCols;
  const int n_groups = (x.n_tokens + internal::kTileRows - 1) / internal::kTileRows;
  tiles.Resize(static_cast<size_t>(n_slices) * n_groups * internal::kTileBytes);  // zeros
  for (int t = 0; t < x.n_tokens; ++t) {
    const int8_t* row = x.q.data() + static_cast<size_t>(t) * x.n_cols_padded;
    const int g = t / internal::kTileRows, lane = 4 * (t % internal::kTileRows);
    for (int s = 0; s < n_slices; ++s) {
      int8_t* tile = tiles.data() + (static_cast<size_t>(s) * n_groups + g) * internal::kTileBytes;
      for (int j = 0; j < internal::kTileSliceCols / 4; ++j) {
        std::memcpy(tile + j * internal::kTileBytesPerRow + lane,
                    row + s * internal::kTileSliceCols + 4 * j, 4);
      }
    }
  }
  return tiles.data();
}

// GemmRange with the ISA's tile kernel: all tokens at once, strip by strip.
void TileGemmRange(const internal::KernelTable& table, const TernaryMatrix& w,
                   const QuantizedActivations& x, const int8_t* q_tiles, float* y, int ld_y,
                   int block_begin, int block_end) {
  thread_local AlignedBuffer<int32_t> dots;  // [n_tokens, kStripRows]
  if (dots.size() < static_cast<size_t>(x.n_tokens) * kStripRows) {
    dots.Resize(static_cast<size_t>(x.n_tokens) * kStripRows);
  }
  const int n_chunks = w.n_cols_padded() / kChunkCols;
  const size_t block_bytes = internal::RowBlockBytes(n_chunks);
  auto strip_products = [&](const uint8_t* strip, int n_blocks, int row0, int n_rows) {
    table.ternary_tile_dots(strip, block_bytes, n_chunks, n_blocks, q_tiles, x.n_tokens,
                            dots.data(), kStripRows);
    FinishRows(w, x, dots.data(), kStripRows, 0, x.n_tokens, row0, n_rows, y, ld_y);
  };
  ForEachStrip(w, block_begin, block_end, strip_products);
}

}  // namespace

void TernaryGemm(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int ld_y,
                 ThreadPool* pool) {
  const TernaryGemmOutput output = {&w, y, ld_y};
  TernaryGemmMany({&output, 1}, x, pool);
}

void TernaryGemmMany(std::span<const TernaryGemmOutput> outputs, const QuantizedActivations& x,
                     ThreadPool* pool) {
  auto blocks_of = [](const TernaryMatrix& w) { return (w.n_rows + kRowBlock - 1) / kRowBlock; };
  int n_blocks = 0;  // the outputs' row blocks one after another, cut into pieces for the pool
  for (const TernaryGemmOutput& out : outputs) {
    CheckShapes(*out.w, x, out.ld_y);
    n_blocks += blocks_of(*out.w);
  }
  if (n_blocks == 0 || x.n_tokens == 0) return;
  const internal::KernelTable& table = internal::ActiveTable();
  const bool tiles = table.ternary_tile_dots != nullptr && x.n_tokens >= kTileMinTokens;
  const int8_t* q_tiles = tiles ? TileActivationsAmx(x) : TileActivations(x);
  // Blocks [begin, end) of that sequence, output by output.
  auto range = [&](int begin, int end) {
    int first = 0;  // the current output's first block in the sequence
    for (const TernaryGemmOutput& out : outputs) {
      const int n = blocks_of(*out.w);
      const int b0 = std::max(begin, first) - first, b1 = std::min(end, first + n) - first;
      first += n;
      if (b0 >= b1) continue;
      if (tiles) {
        TileGemmRange(table, *out.w, x, q_tiles, out.y, out.ld_y, b0, b1);
      } else {
        GemmRange(table, *out.w, x, q_tiles, out.y, out.ld_y, b0, b1);
      }
    }
  };
  if (pool == nullptr || pool->n_threads() == 1) {
    range(0, n_blocks);
    return;
  }
  pool->ForEachPiece(n_blocks, kStripBlocks, range);
}

void TernaryGemmReference(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                          int ld_y) {
  CheckShapes(w, x, ld_y);
  for (int t = 0; t < x.n_tokens; ++t) {
    const int8_t* q = x.q.data() + static_cast<size_t>(t) * x.n_cols_padded;
    for (int r = 0; r < w.n_rows; ++r) {
      int32_t dot = 0;
      for (int c = 0; c < w.n_cols; ++c) dot += TernaryAt(w, r, c) * q[c];
      float v = internal::FinishDot(dot, x.scale[t], w.scale);
      if (!w.row_scale.empty()) v *= w.row_scale[r];
      y[static_cast<size_t>(t) * ld_y + r] = v;
    }
  }
}

void TernaryGemmF32(const TernaryMatrix& w, const float* x, int n_tokens, int ld_x, float* y,
                    int ld_y, ThreadPool* pool) {
  if (ld_x < w.n_cols || (n_tokens > 1 && ld_y < w.n_rows)) {
    throw std::invalid_argument("TernaryGemmF32: bad strides");
  }
  const int n_chunks = w.n_cols_padded() / kChunkCols;
  auto run_rows = [&](int row_begin, int row_end) {
    std::vector<float> row(static_cast<size_t>(n_chunks) * kChunkCols);
    for (int r = row_begin; r < row_end; ++r) {
      // Unpack the row's codes chunk by chunk (see ternary_layout.h) to -1 / 0 / +1.
      for (int c = 0; c < n_chunks; ++c) {
        const size_t word =
            (static_cast<size_t>(r / kRowBlock) * n_chunks + c) * kRowBlock + r % kRowBlock;
        const uint8_t* bytes = w.packed.data() + word * kChunkBytes;
        for (int j = 0; j < kChunkBytes; ++j) {
          for (int k = 0; k < 4; ++k) {
            row[static_cast<size_t>(c) * kChunkCols + k * kChunkBytes + j] =
                static_cast<float>(((bytes[j] >> (2 * k)) & 3) - 1);
          }
        }
      }
      const float factor = w.row_scale.empty() ? w.scale : w.scale * w.row_scale[r];
      for (int t = 0; t < n_tokens; ++t) {
        const float* xt = x + static_cast<size_t>(t) * ld_x;
        float sum = 0.0f;
        for (int c = 0; c < w.n_cols; ++c) sum += row[c] * xt[c];
        y[static_cast<size_t>(t) * ld_y + r] = sum * factor;
      }
    }
  };
  if (pool == nullptr) {
    run_rows(0, w.n_rows);
    return;
  }
  pool->Run([&](int thread_index, int n_threads) {
    const auto [begin, end] = SplitRange(w.n_rows, thread_index, n_threads);
    run_rows(begin, end);
  });
}

namespace internal::scalar {

void TernaryDots(const uint8_t* blocks, size_t block_stride, int n_chunks, int n_blocks,
                 const int8_t* q, int n_tok, int32_t* dots, int ld_dots) {
  for (int b = 0; b < n_blocks; ++b) {
    const uint8_t* block = blocks + b * block_stride;
    for (int i = 0; i < kRowBlock; ++i) {
      for (int t = 0; t < n_tok; ++t) {
        int32_t sum = 0;
        for (int c = 0; c < n_chunks; ++c) {
          const uint8_t* word = block + (static_cast<size_t>(c) * kRowBlock + i) * kChunkBytes;
          const int8_t* qc = q + (static_cast<size_t>(c) * n_tok + t) * kChunkCols;
          for (int j = 0; j < kChunkBytes; ++j) {
            const int byte = word[j];
            sum += (byte & 3) * qc[j] + ((byte >> 2) & 3) * qc[j + 64] +
                   ((byte >> 4) & 3) * qc[j + 128] + ((byte >> 6) & 3) * qc[j + 192];
          }
        }
        dots[t * ld_dots + b * kRowBlock + i] += sum;
      }
    }
  }
}

}  // namespace internal::scalar
}  // namespace ts::kernels
