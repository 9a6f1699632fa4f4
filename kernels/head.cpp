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
constexpr int kTokenTile = 4;  // tokens per kernel call: 4 accumulator pairs fit the registers

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
  w.data.Resize(static_cast<size_t>(n_rows) * RowBytes(type, w.stride()));
  if (HasScales(type)) {
    w.scales.assign(static_cast<size_t>(n_rows) * (w.stride() / kHeadQ8Block), 0.0f);
  }
  return w;
}

// Returns max |row[c]| over [b0, b1).
float BlockAbsMax(const float* row, int b0, int b1) {
  float abs_max = 0.0f;
  for (int c = b0; c < b1; ++c) abs_max = std::max(abs_max, std::fabs(row[c]));
  return abs_max;
}

// Quantizes one row of floats to int8 with a scale per 32 columns (absmax / 127).
void QuantizeQ8Row(const float* row, int n_cols, int8_t* q, float* scales) {
  for (int b0 = 0; b0 < n_cols; b0 += kHeadQ8Block) {
    const int b1 = std::min(n_cols, b0 + kHeadQ8Block);
    const float d = BlockAbsMax(row, b0, b1) / 127.0f;
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    scales[b0 / kHeadQ8Block] = d;
    for (int c = b0; c < b1; ++c) {
      q[c] = static_cast<int8_t>(RoundClamped(row[c] * inv, 127.0f));
    }
  }
}

// Quantizes one row of floats to 4 bits with a scale per 32 columns (absmax / 7, levels -7..7
// stored as q + 8) in the nibble order of head.h.
void QuantizeQ4Row(const float* row, int n_cols, uint8_t* q, float* scales) {
  for (int b0 = 0; b0 < n_cols; b0 += kHeadQ8Block) {
    const int b1 = std::min(n_cols, b0 + kHeadQ8Block);
    const float d = BlockAbsMax(row, b0, b1) / 7.0f;
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    scales[b0 / kHeadQ8Block] = d;
    uint8_t* block = q + b0 / 2;
    for (int j = 0; j < kHeadQ8Block / 2; ++j) {
      auto code = [&](int c) { return (c < b1 ? RoundClamped(row[c] * inv, 7.0f) : 0) + 8; };
      block[j] = static_cast<uint8_t>(code(b0 + j) | (code(b0 + j + kHeadQ8Block / 2) << 4));
    }
  }
}

// Returns the level (-8..7, unscaled) of column c of a Q4 row.
int Q4Level(const uint8_t* row, int c) {
  const int b = c / kHeadQ8Block, j = c % kHeadQ8Block;
  const uint8_t byte = row[b * kHeadQ8Block / 2 + j % (kHeadQ8Block / 2)];
  return (j < kHeadQ8Block / 2 ? byte & 15 : byte >> 4) - 8;
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
      QuantizeQ8Row(row, w->n_cols, reinterpret_cast<int8_t*>(w->data.data()) + r * stride,
                    w->scales.data() + r * (stride / kHeadQ8Block));
      break;
    case HeadType::kQ4:
      QuantizeQ4Row(row, w->n_cols, w->data.data() + r * stride / 2,
                    w->scales.data() + r * (stride / kHeadQ8Block));
      break;
  }
}

internal::HeadGemmFn FloatKernelFor(const internal::KernelTable& table, HeadType type) {
  return type == HeadType::kF16 ? table.head_f16 : table.head_f32;
}

internal::HeadQuantGemmFn QuantKernelFor(const internal::KernelTable& table, HeadType type) {
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

// Q8/Q4 heads take int8 activations quantized like the weights (absmax / 127 per block of 32
// columns, llama.cpp's Q8_0 x Q8_0): integer dot products per block then cost the kernels a few
// byte ops per 32 weights instead of converting every weight to float.
struct QuantizedActivations {
  const int8_t* q;      // [n_tokens, stride]
  const float* scales;  // [n_tokens, stride / kHeadQ8Block]
};

QuantizedActivations QuantizeActivations(const float* x_padded, int n_tokens, int stride) {
  thread_local AlignedBuffer<int8_t> q;
  thread_local std::vector<float> scales;
  const int n_blocks = stride / kHeadQ8Block;
  q.Resize(static_cast<size_t>(n_tokens) * stride);
  scales.resize(static_cast<size_t>(n_tokens) * n_blocks);
  for (int t = 0; t < n_tokens; ++t) {
    QuantizeQ8Row(x_padded + static_cast<size_t>(t) * stride, stride,
                  q.data() + static_cast<size_t>(t) * stride, scales.data() + static_cast<size_t>(t) * n_blocks);
  }
  return {q.data(), scales.data()};
}

// Runs `table`'s kernel for w's type over all rows, split over pool (may be null) in strips of
// kStripRows rows x kTokenTile tokens.
void Run(const internal::KernelTable& table, const HeadMatrix& w, const float* x, int n_tokens,
         int ld_x, float* logits, int ld_logits, ThreadPool* pool) {
  const int stride = w.stride();
  const float* x_padded = PadActivations(x, n_tokens, w.n_cols, ld_x, stride);
  const bool quantized = HasScales(w.type);
  const QuantizedActivations xq =
      quantized ? QuantizeActivations(x_padded, n_tokens, stride) : QuantizedActivations{};
  const internal::HeadGemmFn float_kernel = FloatKernelFor(table, w.type);
  const internal::HeadQuantGemmFn quant_kernel = QuantKernelFor(table, w.type);
  auto rows = [&](int row_begin, int row_end) {
    for (int r0 = row_begin; r0 < row_end; r0 += kStripRows) {
      const int r1 = std::min(row_end, r0 + kStripRows);
      for (int t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
        const int n_tok = std::min(kTokenTile, n_tokens - t0);
        float* out = logits + static_cast<size_t>(t0) * ld_logits;
        if (quantized) {
          quant_kernel(w.data.data(), w.scales.data(), stride, r0, r1,
                       xq.q + static_cast<size_t>(t0) * stride,
                       xq.scales + static_cast<size_t>(t0) * (stride / kHeadQ8Block), n_tok, out,
                       ld_logits);
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
  pool->Run([&](int thread_index, int n_threads) {
    const auto [begin, end] = SplitRange(w.n_rows, thread_index, n_threads, kStripRows);
    if (begin < end) rows(begin, end);
  });
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
    case HeadType::kQ8: {
      const int8_t* q = reinterpret_cast<const int8_t*>(w.data.data()) + row * stride;
      const float* scales = w.scales.data() + row * (stride / kHeadQ8Block);
      for (int c = 0; c < w.n_cols; ++c) out[c] = scales[c / kHeadQ8Block] * static_cast<float>(q[c]);
      break;
    }
    case HeadType::kQ4: {
      const uint8_t* q = w.data.data() + row * stride / 2;
      const float* scales = w.scales.data() + row * (stride / kHeadQ8Block);
      for (int c = 0; c < w.n_cols; ++c) {
        out[c] = scales[c / kHeadQ8Block] * static_cast<float>(Q4Level(q, c));
      }
      break;
    }
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
  scalar_table.head_q8 = internal::scalar::HeadGemmQ8;
  scalar_table.head_q4 = internal::scalar::HeadGemmQ4;
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
template <class Level>
void QuantRows(const void* w_data, const float* w_scales, int stride, int row_begin,
               int row_end, const int8_t* xq, const float* x_scales, int n_tok, float* logits,
               int ld_logits, Level level) {
  const int n_blocks = stride / kHeadQ8Block;
  for (int r = row_begin; r < row_end; ++r) {
    const float* row_scales = w_scales + static_cast<size_t>(r) * n_blocks;
    for (int t = 0; t < n_tok; ++t) {
      const int8_t* xt = xq + static_cast<size_t>(t) * stride;
      const float* xt_scales = x_scales + static_cast<size_t>(t) * n_blocks;
      float sum = 0.0f;
      for (int b = 0; b < n_blocks; ++b) {
        int32_t dot = 0;
        for (int c = b * kHeadQ8Block; c < (b + 1) * kHeadQ8Block; ++c) {
          dot += level(w_data, r, stride, c) * xt[c];
        }
        sum += row_scales[b] * xt_scales[b] * static_cast<float>(dot);
      }
      logits[static_cast<size_t>(t) * ld_logits + r] = sum;
    }
  }
}

void HeadGemmQ8(const void* w_data, const float* w_scales, int stride, int row_begin,
                int row_end, const int8_t* xq, const float* x_scales, int n_tok, float* logits,
                int ld_logits) {
  QuantRows(w_data, w_scales, stride, row_begin, row_end, xq, x_scales, n_tok, logits, ld_logits,
            [](const void* w, int r, int row_stride, int c) {
              return static_cast<int32_t>(static_cast<const int8_t*>(w)[static_cast<size_t>(r) * row_stride + c]);
            });
}

void HeadGemmQ4(const void* w_data, const float* w_scales, int stride, int row_begin,
                int row_end, const int8_t* xq, const float* x_scales, int n_tok, float* logits,
                int ld_logits) {
  QuantRows(w_data, w_scales, stride, row_begin, row_end, xq, x_scales, n_tok, logits, ld_logits,
            [](const void* w, int r, int row_stride, int c) {
              return Q4Level(static_cast<const uint8_t*>(w) + static_cast<size_t>(r) * row_stride / 2, c);
            });
}

}  // namespace internal::scalar
}  // namespace ts::kernels
