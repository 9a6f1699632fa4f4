// Ternary (BitNet b1.58) matrix products: ternary weights x int8 activations with int32
// accumulation (formats.md section 4), plus a float-activation variant for checks.
// The packed layout is private (kernels/internal/ternary_layout.h) and the same for every ISA,
// so a matrix packed once works with any forced ISA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/memory_arena.h"
#include "kernels/quantize.h"
#include "kernels/thread_pool.h"

namespace ts::kernels {

struct TernaryMatrix {
  int n_rows = 0, n_cols = 0;     // y = W x; W is [n_rows, n_cols], n_cols = input dim
  float scale = 1.0f;             // per-tensor weight scale
  std::vector<float> row_scale;   // optional [n_rows] extra per-row factor (empty = none)
  AlignedBuffer<uint8_t> packed;  // 2-bit codes, layout private to kernels

  // Returns the bytes held (packed codes + row scales).
  size_t bytes() const { return packed.size() + row_scale.size() * sizeof(float); }
  // Returns n_cols rounded up to kTernaryColAlign (the activation row length it expects).
  int n_cols_padded() const;
};

// Returns W packed from trits [n_rows, n_cols] row-major with values -1, 0, +1, its codes in
// memory taken from `memory` when given (which must then outlive the matrix), else its own.
// Throws std::invalid_argument on any other value or a negative shape.
TernaryMatrix PackTernary(const int8_t* trits, int n_rows, int n_cols, float scale,
                          MemoryArena* memory = nullptr);

// Returns trit (row, col) of a packed matrix (for tests and debugging).
int TernaryAt(const TernaryMatrix& w, int row, int col);

// y[t * ld_y + r] = (sum_c W[r][c] * x.q[t][c]) / x.scale[t] * scale * row_scale[r]
// for t < x.n_tokens, r < n_rows. Requires x.n_cols == w.n_cols, ld_y >= n_rows.
// Rows are split over pool's threads (pool may be null: caller's thread only).
// The int32 sums are exact and the final float math is shared, so every ISA gives bit-identical y.
void TernaryGemm(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int ld_y,
                 ThreadPool* pool);

// One product of TernaryGemmMany: y = W x into y with row stride ld_y (as TernaryGemm's).
struct TernaryGemmOutput {
  const TernaryMatrix* w;
  float* y;
  int ld_y;
};

// TernaryGemm for several matrices that take the same activations (q/k/v, gate/up), in one pass
// of the pool: one wake-up instead of several, and each thread's weight stream runs on from one
// matrix into the next. Same results as one TernaryGemm per output.
void TernaryGemmMany(std::span<const TernaryGemmOutput> outputs, const QuantizedActivations& x,
                     ThreadPool* pool);

// Float activations, no quantization (tests and exact-architecture checks; not a hot path):
// y[t * ld_y + r] = sum_c W[r][c] * x[t * ld_x + c] * scale * row_scale[r].
void TernaryGemmF32(const TernaryMatrix& w, const float* x, int n_tokens, int ld_x, float* y,
                    int ld_y, ThreadPool* pool);

// Scalar reference of TernaryGemm (always available, single-threaded, reads W via TernaryAt).
void TernaryGemmReference(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                          int ld_y);

}  // namespace ts::kernels
