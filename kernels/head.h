// The output head / embedding table: a [vocab, d_model] matrix stored as F32, F16 (bits kept
// from the file), Q8 (int8 + one f32 scale per block of 32 columns, like llama.cpp's Q8_0; its
// perplexity cost on 2B-4T is +0.011, formats.md section 1) or Q4 (4-bit symmetric, one f32
// scale per 32 columns; the "lower-bit head" of issue #4, measured, not the default).
// F32/F16 heads multiply float activations; Q8/Q4 heads quantize the activations the same way
// (int8, absmax / 127 per 32 columns) and take integer dot products per block, as llama.cpp
// does for Q8_0 (Q8_0 x Q8_0).
// Rows are padded with zeros to a multiple of kHeadColAlign columns, 64-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/thread_pool.h"

namespace ts::kernels {

enum class HeadType { kF32, kF16, kQ8, kQ4 };

inline constexpr int kHeadColAlign = 64;   // row stride in elements is a multiple of this
inline constexpr int kHeadQ8Block = 32;    // columns sharing one Q8 (or Q4) scale

// Returns "f32", "f16", "q8" or "q4".
const char* HeadTypeName(HeadType type);

struct HeadMatrix {
  HeadType type = HeadType::kF32;
  int n_rows = 0, n_cols = 0;
  // [n_rows, stride()] elements of float / f16 bits / int8; kQ4: per block of 32 columns,
  // 16 bytes whose byte j holds column j (low nibble) and j + 16 (high), as q + 8.
  AlignedBuffer<uint8_t> data;
  std::vector<float> scales;    // kQ8, kQ4: [n_rows, stride() / kHeadQ8Block]

  // Returns the row stride in elements: n_cols rounded up to kHeadColAlign.
  int stride() const { return (n_cols + kHeadColAlign - 1) / kHeadColAlign * kHeadColAlign; }
  // Returns the bytes held (data + scales).
  size_t bytes() const { return data.size() + scales.size() * sizeof(float); }
};

// Returns w [n_rows, n_cols] (row-major floats) converted to `type`.
HeadMatrix HeadFromF32(const float* w, int n_rows, int n_cols, HeadType type);
// Returns w [n_rows, n_cols] (row-major IEEE half bits) as `type`; kF16 keeps the bits.
HeadMatrix HeadFromF16(const uint16_t* w, int n_rows, int n_cols, HeadType type);

// logits[t * ld_logits + v] = dot(W[v], x[t * ld_x ...]) for t < n_tokens, v < n_rows.
// Requires ld_x >= n_cols, ld_logits >= n_rows (when n_tokens > 1). Rows split over pool
// (may be null). Results differ from the reference by float rounding order only.
void HeadGemm(const HeadMatrix& w, const float* x, int n_tokens, int ld_x, float* logits,
              int ld_logits, ThreadPool* pool);

// Scalar reference of HeadGemm (single-threaded).
void HeadGemmReference(const HeadMatrix& w, const float* x, int n_tokens, int ld_x,
                       float* logits, int ld_logits);

// Writes row `row` dequantized to out [n_cols] (embedding lookup). Requires 0 <= row < n_rows.
void HeadRow(const HeadMatrix& w, int row, float* out);

}  // namespace ts::kernels
