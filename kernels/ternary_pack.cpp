// PackTernary: trits -> the 2-bit blocked layout of kernels/internal/ternary_layout.h.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/internal/ternary_layout.h"
#include "kernels/ternary_gemm.h"

namespace ts::kernels {

using internal::kChunkBytes;
using internal::kChunkCols;
using internal::kRowBlock;

int TernaryMatrix::n_cols_padded() const {
  const int cols = n_cols > 0 ? n_cols : 1;
  return (cols + kTernaryColAlign - 1) / kTernaryColAlign * kTernaryColAlign;
}

TernaryMatrix PackTernary(const int8_t* trits, int n_rows, int n_cols, float scale,
                          MemoryArena* memory) {
  if (n_rows < 0 || n_cols < 0) throw std::invalid_argument("PackTernary: negative shape");
  TernaryMatrix w;
  w.n_rows = n_rows;
  w.n_cols = n_cols;
  w.scale = scale;
  const int n_chunks = w.n_cols_padded() / kChunkCols;
  const int n_blocks = (n_rows + kRowBlock - 1) / kRowBlock;
  const size_t n_bytes = static_cast<size_t>(n_blocks) * internal::RowBlockBytes(n_chunks);
  if (memory != nullptr) {
    ResizeInArena(w.packed, n_bytes, *memory);
  } else {
    w.packed.Resize(n_bytes);
  }
  uint8_t* out = w.packed.data();
  // One 64-byte word per (row, chunk), built in a register-friendly loop (a 2B model packs ~2
  // billion weights at load). Columns past n_cols get code 1 (weight 0). A value outside
  // {-1, 0, +1} (code above 2 as a byte) is found per row and located only for the message.
  auto word_bytes = [&](int r, int chunk) {
    const size_t word =
        (static_cast<size_t>(r / kRowBlock) * n_chunks + chunk) * kRowBlock + r % kRowBlock;
    return out + word * kChunkBytes;
  };
  uint8_t codes[kChunkCols];
  for (int r = 0; r < n_rows; ++r) {
    const int8_t* row = trits + static_cast<size_t>(r) * n_cols;
    uint8_t max_code = 0;
    for (int chunk = 0; chunk < n_chunks; ++chunk) {
      const int begin = chunk * kChunkCols;
      const int n_valid = std::min(kChunkCols, n_cols - begin);
      for (int c = 0; c < n_valid; ++c) codes[c] = static_cast<uint8_t>(row[begin + c] + 1);
      for (int c = 0; c < n_valid; ++c) max_code = std::max(max_code, codes[c]);
      for (int c = n_valid; c < kChunkCols; ++c) codes[c] = 1;
      uint8_t* bytes = word_bytes(r, chunk);
      for (int j = 0; j < kChunkBytes; ++j) {
        bytes[j] = static_cast<uint8_t>(codes[j] | codes[j + 64] << 2 | codes[j + 128] << 4 |
                                        codes[j + 192] << 6);
      }
    }
    if (max_code > 2) {
      const int c = static_cast<int>(
          std::find_if(row, row + n_cols, [](int8_t t) { return t < -1 || t > 1; }) - row);
      throw std::invalid_argument("PackTernary: value " + std::to_string(row[c]) + " at (" +
                                  std::to_string(r) + ", " + std::to_string(c) +
                                  ") is not -1, 0 or +1");
    }
  }
  // Padding rows of the last block: all weights 0.
  for (int r = n_rows; r < n_blocks * kRowBlock; ++r) {
    for (int chunk = 0; chunk < n_chunks; ++chunk)
      std::memset(word_bytes(r, chunk), 0x55, kChunkBytes);
  }
  return w;
}

int TernaryAt(const TernaryMatrix& w, int row, int col) {
  return internal::CodeAt(w.packed.data(), w.n_cols_padded() / kChunkCols, row, col) - 1;
}

}  // namespace ts::kernels
