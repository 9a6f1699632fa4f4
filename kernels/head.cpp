// Head matrix conversions, the threaded HeadGemm driver, the reference and scalar kernels.
#include "kernels/head.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/f16.h"
#include "kernels/internal/dispatch.h"
#include "kernels/round.h"

namespace ts::kernels {
namespace {

// Rows per strip: one strip of an F16 2560-wide head is 32 x 5 KB = 160 KB, kept in L2 while
// every token tile passes over it.
constexpr int kStripRows = 32;
static_assert(kStripRows % kHeadRowGroup == 0, "strips hold whole Q8/Q4 row groups");
// Rows per piece a thread takes at a time (8 strips: 640 KB of a 2560-wide Q8 head).
constexpr int kPieceRows = 8 * kStripRows;

// Returns the bytes of one row of `stride` elements.
size_t RowBytes(HeadType type, int stride) {
  const auto n = static_cast<size_t>(stride);
  switch (type) {
    case HeadType::kF32:
      return n * 4;
    case HeadType::kF16:
      return n * 2;
    case HeadType::kQ8:
      return n;
    case HeadType::kQ4:
      return n / 2;
  }
  return n * 4;
}

bool HasScales(HeadType type) { return type == HeadType::kQ8 || type == HeadType::kQ4; }

HeadMatrix Allocate(int n_rows, int n_cols, HeadType type) {
  if (n_rows < 0 || n_cols < 0) throw std::invalid_argument("Head: negative shape");
  HeadMatrix w;
  w.type = type;
  w.n_rows = n_rows;
  w.n_cols = n_cols;
  // Q8/Q4 hold whole row groups; padding rows are level 0 with scale 0.
  const size_t stored_rows = HasScales(type) ? static_cast<size_t>(w.n_groups()) * kHeadRowGroup
                                             : static_cast<size_t>(n_rows);
  w.data.Resize(stored_rows * RowBytes(type, w.stride()));
  if (HasScales(type)) {
    std::memset(w.data.data(), type == HeadType::kQ8 ? 0x80 : 0x88, w.data.size());
    w.scales.Resize(stored_rows * (w.stride() / kHeadQ8Block));
  }
  return w;
}

// Returns max |row[c]| over [b0, b1).
float BlockAbsMax(const float* row, int b0, int b1) {
  float abs_max = 0.0f;
  for (int c = b0; c < b1; ++c) abs_max = std::max(abs_max, std::fabs(row[c]));
  return abs_max;
}

// Quantizes n_cols floats to levels -max_level..max_level with a scale per 32 columns
// (absmax / max_level); columns past n_cols up to a whole block get level 0.
void QuantizeBlocks(const float* row, int n_cols, float max_level, int8_t* q, float* scales) {
  for (int b0 = 0; b0 < n_cols; b0 += kHeadQ8Block) {
    const int b1 = std::min(n_cols, b0 + kHeadQ8Block);
    const float d = BlockAbsMax(row, b0, b1) / max_level;
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    scales[b0 / kHeadQ8Block] = d;
    for (int c = b0; c < b0 + kHeadQ8Block; ++c) {
      q[c] = static_cast<int8_t>(c < b1 ? RoundClamped(row[c] * inv, max_level) : 0);
    }
  }
}

// Byte offsets of column c of row r in the row group layout of head.h.
size_t Q8Offset(int stride, int r, int c) {
  return (static_cast<size_t>(r / kHeadRowGroup) * stride + static_cast<size_t>(c / 4) * 4) *
             kHeadRowGroup +
         static_cast<size_t>(r % kHeadRowGroup) * 4 + c % 4;
}
size_t Q4Offset(int stride, int r, int c) {
  return (static_cast<size_t>(r / kHeadRowGroup) * stride / 2 + static_cast<size_t>(c / 8) * 4) *
             kHeadRowGroup +
         static_cast<size_t>(r % kHeadRowGroup) * 4 + c % 4;
}
bool Q4HighNibble(int c) {
  return c % 8 >= 4;
}

// Returns the index in HeadMatrix::scales of row r's scale for block b.
size_t ScaleIndex(int stride, int r, int b) {
  return (static_cast<size_t>(r / kHeadRowGroup) * (stride / kHeadQ8Block) + b) * kHeadRowGroup +
         r % kHeadRowGroup;
}

// Returns the level (unscaled) of column c of row r of a Q8 / Q4 head's data.
int QuantLevel(HeadType type, const uint8_t* data, int stride, int r, int c) {
  if (type == HeadType::kQ8) return data[Q8Offset(stride, r, c)] - 128;
  const uint8_t byte = data[Q4Offset(stride, r, c)];
  return (Q4HighNibble(c) ? byte >> 4 : byte & 15) - 8;
}

// Q8 levels of absmax / 127, Q4 levels -7..7 of absmax / 7, both per 32 columns.
void StoreQuantRow(HeadMatrix* w, int r, const float* row) {
  const int stride = w->stride();
  std::vector<int8_t> q(static_cast<size_t>(stride));
  std::vector<float> scales(static_cast<size_t>(stride / kHeadQ8Block));
  QuantizeBlocks(row, w->n_cols, w->type == HeadType::kQ8 ? 127.0f : 7.0f, q.data(), scales.data());
  for (int b = 0; b < stride / kHeadQ8Block; ++b) w->scales[ScaleIndex(stride, r, b)] = scales[b];
  uint8_t* data = w->data.data();
  for (int c = 0; c < stride; ++c) {
    if (w->type == HeadType::kQ8) {
      data[Q8Offset(stride, r, c)] = static_cast<uint8_t>(q[c] + 128);
    } else {
      uint8_t& byte = data[Q4Offset(stride, r, c)];
      const auto code = static_cast<uint8_t>(q[c] + 8);
      byte = Q4HighNibble(c) ? static_cast<uint8_t>((byte & 15) | code << 4)
                             : static_cast<uint8_t>((byte & 0xF0) | code);
    }
  }
}

void StoreRow(HeadMatrix* w, int r, const float* row) {
  const size_t stride = static_cast<size_t>(w->stride());
  switch (w->type) {
    case HeadType::kF32:
      std::memcpy(w->data.data() + r * stride * 4, row, static_cast<size_t>(w->n_cols) * 4);
      break;
    case HeadType::kF16: {
      uint16_t* out = reinterpret_cast<uint16_t*>(w->data.data()) + r * stride;
      for (int c = 0; c < w->n_cols; ++c) out[c] = F32ToF16(row[c]);
      break;
    }
    case HeadType::kQ8:
    case HeadType::kQ4:
      StoreQuantRow(w, r, row);
      break;
  }
}

internal::HeadGemmFn FloatKernelFor(const internal::KernelTable& table, HeadType type) {
  return type == HeadType::kF16 ? table.head_f16 : table.head_f32;
}

internal::HeadQuantGroupFn QuantKernelFor(const internal::KernelTable& table, HeadType type) {
  return type == HeadType::kQ4 ? table.head_q4 : table.head_q8;
}

// Copies x [n_tokens, n_cols] into a zero-padded [n_tokens, stride] buffer so the kernels need
// no column tails.
const float* PadActivations(const float* x, int n_tokens, int n_cols, int ld_x, int stride) {
  thread_local AlignedBuffer<float> padded;
  padded.Resize(static_cast<size_t>(n_tokens) * stride);
  for (int t = 0; t < n_tokens; ++t) {
    std::memcpy(padded.data() + static_cast<size_t>(t) * stride, x + static_cast<size_t>(t) * ld_x,
                static_cast<size_t>(n_cols) * sizeof(float));
  }
  return padded.data();
}

// Returns the largest activation level a Q8 / Q4 head's kernels take (see head.h).
float ActivationMaxLevel(HeadType type) {
  return type == HeadType::kQ8 ? 63.0f : 127.0f;
}

// Q8/Q4 heads take int8 activations quantized per block of 32 columns (absmax / max level):
// integer dot products per block then cost the kernels a few byte ops per 32 weights instead
// of converting every weight to float.
internal::HeadActivations QuantizeActivations(const float* x_padded, int n_tokens, int stride,
                                              float max_level) {
  thread_local AlignedBuffer<int8_t> q;
  thread_local std::vector<float> scales;
  thread_local std::vector<int32_t> sums;
  const int n_blocks = stride / kHeadQ8Block;
  q.Resize(static_cast<size_t>(n_tokens) * stride);
  scales.resize(static_cast<size_t>(n_tokens) * n_blocks);
  sums.assign(static_cast<size_t>(n_tokens) * n_blocks, 0);
  for (int t = 0; t < n_tokens; ++t) {
    int8_t* qt = q.data() + static_cast<size_t>(t) * stride;
    QuantizeBlocks(x_padded + static_cast<size_t>(t) * stride, stride, max_level, qt,
                   scales.data() + static_cast<size_t>(t) * n_blocks);
    for (int c = 0; c < stride; ++c)
      sums[static_cast<size_t>(t) * n_blocks + c / kHeadQ8Block] += qt[c];
  }
  return {q.data(), scales.data(), sums.data()};
}

// Rows [r0, r1) of a Q8/Q4 head (r0 a multiple of kHeadRowGroup) for n_tok <= head_token_tile
// tokens: `kernel` a row group at a time, padding rows not written.
void QuantRows(internal::HeadQuantGroupFn kernel, const HeadMatrix& w, int r0, int r1,
               const internal::HeadActivations& x, int n_tok, float* logits, int ld_logits) {
  const int stride = w.stride();
  const size_t group_bytes = RowBytes(w.type, stride) * kHeadRowGroup;
  const size_t group_scales = static_cast<size_t>(stride / kHeadQ8Block) * kHeadRowGroup;
  for (int g0 = r0; g0 < r1; g0 += kHeadRowGroup) {
    const auto g = static_cast<size_t>(g0 / kHeadRowGroup);
    alignas(64) float out[internal::kHeadTokenTile][kHeadRowGroup];
    kernel(w.data.data() + g * group_bytes, w.scales.data() + g * group_scales, stride, x, n_tok,
           out);
    const int n_valid = std::min(kHeadRowGroup, r1 - g0);
    for (int t = 0; t < n_tok; ++t) {
      std::memcpy(logits + static_cast<size_t>(t) * ld_logits + g0, out[t],
                  n_valid * sizeof(float));
    }
  }
}

// Runs `table`'s kernel for w's type over all rows, split over pool (may be null) in strips of
// kStripRows rows x the table's head_token_tile tokens (a strip is read once per tile).
void Run(const internal::KernelTable& table, const HeadMatrix& w, const float* x, int n_tokens,
         int ld_x, float* logits, int ld_logits, ThreadPool* pool) {
  const int stride = w.stride();
  const float* x_padded = PadActivations(x, n_tokens, w.n_cols, ld_x, stride);
  const bool quantized = HasScales(w.type);
  const int n_blocks = stride / kHeadQ8Block;
  const internal::HeadActivations xq =
      quantized ? QuantizeActivations(x_padded, n_tokens, stride, ActivationMaxLevel(w.type))
                : internal::HeadActivations{};
  const internal::HeadGemmFn float_kernel = FloatKernelFor(table, w.type);
  const internal::HeadQuantGroupFn quant_kernel = QuantKernelFor(table, w.type);
  const int token_tile = table.head_token_tile;
  auto rows = [&](int row_begin, int row_end) {
    for (int r0 = row_begin; r0 < row_end; r0 += kStripRows) {
      const int r1 = std::min(row_end, r0 + kStripRows);
      for (int t0 = 0; t0 < n_tokens; t0 += token_tile) {
        const int n_tok = std::min(token_tile, n_tokens - t0);
        float* out = logits + static_cast<size_t>(t0) * ld_logits;
        if (quantized) {
          const size_t block0 = static_cast<size_t>(t0) * n_blocks;
          const internal::HeadActivations tile = {xq.q + static_cast<size_t>(t0) * stride,
                                                  xq.scales + block0, xq.sums + block0};
          QuantRows(quant_kernel, w, r0, r1, tile, n_tok, out, ld_logits);
        } else {
          float_kernel(w.data.data(), stride, r0, r1, x_padded + static_cast<size_t>(t0) * stride,
                       stride, n_tok, out, ld_logits);
        }
      }
    }
  };
  if (pool == nullptr || pool->n_threads() == 1) {
    rows(0, w.n_rows);
    return;
  }
  pool->ForEachPiece(w.n_rows, kPieceRows, rows);
}

void CheckArgs(const HeadMatrix& w, int n_tokens, int ld_x, int ld_logits) {
  if (n_tokens < 0 || ld_x < w.n_cols || (n_tokens > 1 && ld_logits < w.n_rows)) {
    throw std::invalid_argument("HeadGemm: bad shape or strides");
  }
}

}  // namespace

const char* HeadTypeName(HeadType type) {
  switch (type) {
    case HeadType::kF32:
      return "f32";
    case HeadType::kF16:
      return "f16";
    case HeadType::kQ8:
      return "q8";
    case HeadType::kQ4:
      return "q4";
  }
  return "unknown";
}

HeadMatrix HeadFromF32(const float* w, int n_rows, int n_cols, HeadType type) {
  HeadMatrix out = Allocate(n_rows, n_cols, type);
  for (int r = 0; r < n_rows; ++r) StoreRow(&out, r, w + static_cast<size_t>(r) * n_cols);
  return out;
}

HeadMatrix HeadFromF16(const uint16_t* w, int n_rows, int n_cols, HeadType type) {
  HeadMatrix out = Allocate(n_rows, n_cols, type);
  if (type == HeadType::kF16) {
    for (int r = 0; r < n_rows; ++r) {
      std::memcpy(out.data.data() + static_cast<size_t>(r) * out.stride() * 2,
                  w + static_cast<size_t>(r) * n_cols, static_cast<size_t>(n_cols) * 2);
    }
    return out;
  }
  std::vector<float> row(static_cast<size_t>(n_cols));
  for (int r = 0; r < n_rows; ++r) {
    F16ToF32Row(w + static_cast<size_t>(r) * n_cols, row.data(), static_cast<size_t>(n_cols));
    StoreRow(&out, r, row.data());
  }
  return out;
}

void HeadRow(const HeadMatrix& w, int row, float* out) {
  if (row < 0 || row >= w.n_rows) throw std::out_of_range("HeadRow: row out of range");
  const size_t stride = static_cast<size_t>(w.stride());
  switch (w.type) {
    case HeadType::kF32:
      std::memcpy(out, w.data.data() + row * stride * 4, static_cast<size_t>(w.n_cols) * 4);
      break;
    case HeadType::kF16:
      F16ToF32Row(reinterpret_cast<const uint16_t*>(w.data.data()) + row * stride, out,
                  static_cast<size_t>(w.n_cols));
      break;
    case HeadType::kQ8:
    case HeadType::kQ4:
      for (int c = 0; c < w.n_cols; ++c) {
        out[c] = w.scales[ScaleIndex(w.stride(), row, c / kHeadQ8Block)] *
                 static_cast<float>(QuantLevel(w.type, w.data.data(), w.stride(), row, c));
      }
      break;
  }
}

void HeadGemm(const HeadMatrix& w, const float* x, int n_tokens, int ld_x, float* logits,
              int ld_logits, ThreadPool* pool) {
  CheckArgs(w, n_tokens, ld_x, ld_logits);
  if (n_tokens == 0 || w.n_rows == 0) return;
  Run(internal::ActiveTable(), w, x, n_tokens, ld_x, logits, ld_logits, pool);
}

void HeadGemmReference(const HeadMatrix& w, const float* x, int n_tokens, int ld_x,
                       float* logits, int ld_logits) {
  CheckArgs(w, n_tokens, ld_x, ld_logits);
  if (n_tokens == 0 || w.n_rows == 0) return;
  internal::KernelTable scalar_table{};
  scalar_table.head_f32 = internal::scalar::HeadGemmF32;
  scalar_table.head_f16 = internal::scalar::HeadGemmF16;
  scalar_table.head_q8 = internal::scalar::HeadGroupQ8;
  scalar_table.head_q4 = internal::scalar::HeadGroupQ4;
  scalar_table.head_token_tile = internal::kHeadTokenTile;
  Run(scalar_table, w, x, n_tokens, ld_x, logits, ld_logits, nullptr);
}

namespace internal::scalar {

void HeadGemmF32(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                 int ld_x, int n_tok, float* logits, int ld_logits) {
  for (int r = row_begin; r < row_end; ++r) {
    const float* row = static_cast<const float*>(w_data) + static_cast<size_t>(r) * stride;
    for (int t = 0; t < n_tok; ++t) {
      const float* xt = x + static_cast<size_t>(t) * ld_x;
      float sum = 0.0f;
      for (int c = 0; c < stride; ++c) sum += row[c] * xt[c];
      logits[static_cast<size_t>(t) * ld_logits + r] = sum;
    }
  }
}

void HeadGemmF16(const void* w_data, int stride, int row_begin, int row_end, const float* x,
                 int ld_x, int n_tok, float* logits, int ld_logits) {
  std::vector<float> row(static_cast<size_t>(stride));
  for (int r = row_begin; r < row_end; ++r) {
    F16ToF32Row(static_cast<const uint16_t*>(w_data) + static_cast<size_t>(r) * stride, row.data(),
                static_cast<size_t>(stride));
    for (int t = 0; t < n_tok; ++t) {
      const float* xt = x + static_cast<size_t>(t) * ld_x;
      float sum = 0.0f;
      for (int c = 0; c < stride; ++c) sum += row[c] * xt[c];
      logits[static_cast<size_t>(t) * ld_logits + r] = sum;
    }
  }
}

// Q8 / Q4: integer dot products per block, scaled by the two block scales, summed in float.
void QuantGroup(HeadType type, const uint8_t* group, const float* group_scales, int stride,
                const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  const int n_blocks = stride / kHeadQ8Block;
  for (int i = 0; i < kHeadRowGroup; ++i) {  // a group's row i is row i of its own data
    for (int t = 0; t < n_tok; ++t) {
      const int8_t* xt = x.q + static_cast<size_t>(t) * stride;
      const float* xt_scales = x.scales + static_cast<size_t>(t) * n_blocks;
      float sum = 0.0f;
      for (int b = 0; b < n_blocks; ++b) {
        int32_t dot = 0;
        for (int c = b * kHeadQ8Block; c < (b + 1) * kHeadQ8Block; ++c) {
          dot += QuantLevel(type, group, stride, i, c) * xt[c];
        }
        sum += group_scales[ScaleIndex(stride, i, b)] * xt_scales[b] * static_cast<float>(dot);
      }
      out[t][i] = sum;
    }
  }
}

void HeadGroupQ8(const uint8_t* group, const float* group_scales, int stride,
                 const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroup(HeadType::kQ8, group, group_scales, stride, x, n_tok, out);
}

void HeadGroupQ4(const uint8_t* group, const float* group_scales, int stride,
                 const HeadActivations& x, int n_tok, float (*out)[kHeadRowGroup]) {
  QuantGroup(HeadType::kQ4, group, group_scales, stride, x, n_tok, out);
}

}  // namespace internal::scalar
}  // namespace ts::kernels
