// PackTernary: trits -> the 2-bit blocked layout of kernels/internal/ternary_layout.h.
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

TernaryMatrix PackTernary(const int8_t* trits, int n_rows, int n_cols, float scale) {
  if (n_rows < 0 || n_cols < 0) throw std::invalid_argument("PackTernary: negative shape");
  TernaryMatrix w;
  w.n_rows = n_rows;
  w.n_cols = n_cols;
  w.scale = scale;
  const int n_chunks = w.n_cols_padded() / kChunkCols;
  const int n_blocks = (n_rows + kRowBlock - 1) / kRowBlock;
  w.packed.Resize(static_cast<size_t>(n_blocks) * internal::RowBlockBytes(n_chunks));
  uint8_t* out = w.packed.data();
  // Every code starts as 1 (weight 0): 0b01010101 per byte. Padding stays that way.
  for (size_t i = 0; i < w.packed.size(); ++i) out[i] = 0x55;
  for (int r = 0; r < n_rows; ++r) {
    const int block = r / kRowBlock, row_in_block = r % kRowBlock;
    for (int c = 0; c < n_cols; ++c) {
      const int8_t t = trits[static_cast<size_t>(r) * n_cols + c];
      if (t < -1 || t > 1) {
        throw std::invalid_argument("PackTernary: value " + std::to_string(t) + " at (" +
                                    std::to_string(r) + ", " + std::to_string(c) +
                                    ") is not -1, 0 or +1");
      }
      const int chunk = c / kChunkCols, in_chunk = c % kChunkCols;
      const size_t word =
          (static_cast<size_t>(block) * n_chunks + chunk) * kRowBlock + row_in_block;
      uint8_t& byte = out[word * kChunkBytes + in_chunk % kChunkBytes];
      const int shift = 2 * (in_chunk / kChunkBytes);
      byte = static_cast<uint8_t>((byte & ~(3 << shift)) | ((t + 1) << shift));
    }
  }
  return w;
}

int TernaryAt(const TernaryMatrix& w, int row, int col) {
  return internal::CodeAt(w.packed.data(), w.n_cols_padded() / kChunkCols, row, col) - 1;
}

}  // namespace ts::kernels
