// The output head / embedding table: a [vocab, d_model] matrix stored as F32, F16 (bits kept
// from the file), Q8 (int8 + one f32 scale per block of 32 columns, like llama.cpp's Q8_0; its
// perplexity cost on 2B-4T is +0.011, formats.md section 1) or Q4 (4-bit symmetric, one f32
// scale per 32 columns; the "lower-bit head" of issue #4, measured, not the default).
// F32/F16 heads multiply float activations; Q8/Q4 heads quantize the activations per 32
// columns too (absmax / 63 for Q8, / 127 for Q4) and take integer dot products per block.
// Rows are padded with zeros to a multiple of kHeadColAlign columns, 64-byte aligned.
//
// Q8/Q4 weights are stored unsigned (level + 128, level + 8) and interleaved in groups of
// kHeadRowGroup rows: the layout of a vpmaddubsw / vpdpbusd GEMM. For every 4 columns the 4
// bytes of each of a group's 16 rows sit side by side, so one 512-bit (or two 256-bit) loads
// give 16 rows x 4 columns, a broadcast of 4 activation bytes multiplies them all, and each
// row's products stay in its own int32 lane (no horizontal sums). vpmaddubsw multiplies
// unsigned by signed bytes and saturates its pair sums at int16: with weights up to 255 the
// activations must stay within +-63 (Q8's 7-bit activations; Q4's codes up to 15 allow +-127).
// The offset comes back out as offset x (sum of the block's activation levels).
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
inline constexpr int kHeadRowGroup = 16;   // Q8/Q4 rows interleaved together

// Returns "f32", "f16", "q8" or "q4".
const char* HeadTypeName(HeadType type);

struct HeadMatrix {
  HeadType type = HeadType::kF32;
  int n_rows = 0, n_cols = 0;
  // kF32, kF16: [n_rows, stride()] floats / f16 bits.
  // kQ8: [n_groups()][stride() / 4][kHeadRowGroup][4] bytes: group g's 4-column step s holds,
  // at byte 4 * i + j, column 4 * s + j of row 16 * g + i as level + 128 (rows past n_rows
  // are level 0).
  // kQ4: [n_groups()][stride() / 8][kHeadRowGroup][4] bytes: byte 4 * i + j of step s holds
  // column 8 * s + j of row 16 * g + i in its low nibble and column 8 * s + 4 + j in its high
  // nibble, as level + 8.
  AlignedBuffer<uint8_t> data;
  // kQ8, kQ4: [n_groups()][stride() / kHeadQ8Block][kHeadRowGroup]: a group's scales for one
  // block of 32 columns side by side. An AlignedBuffer for the huge pages: read beside the
  // codes for every token, from a std::vector's 4 KB pages it cost 2B-4T's q8 decode 4-7% under
  // KVM (28.2-29.0 -> 30.1-30.2 tok/s at 2 threads).
  AlignedBuffer<float> scales;

  // Returns the row stride in elements: n_cols rounded up to kHeadColAlign.
  int stride() const { return (n_cols + kHeadColAlign - 1) / kHeadColAlign * kHeadColAlign; }
  // Returns the number of Q8/Q4 row groups (n_rows rounded up to kHeadRowGroup).
  int n_groups() const { return (n_rows + kHeadRowGroup - 1) / kHeadRowGroup; }
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
