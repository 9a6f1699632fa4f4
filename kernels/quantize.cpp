// Activation quantization: the per-token driver (shared) and the scalar row kernels.
#include "kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/internal/dispatch.h"

namespace ts::kernels {
namespace {

int RoundUp(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

void Prepare(int n_tokens, int n_cols, int ld_x, QuantizedActivations* out) {
  if (n_tokens < 0 || n_cols < 0 || ld_x < n_cols) {
    throw std::invalid_argument("QuantizeActivations: bad shape");
  }
  out->n_tokens = n_tokens;
  out->n_cols = n_cols;
  out->n_cols_padded = RoundUp(std::max(n_cols, 1), kTernaryColAlign);
  out->q.ResizeForOverwrite(static_cast<size_t>(n_tokens) * out->n_cols_padded);
  out->scale.resize(static_cast<size_t>(n_tokens));
  out->sum.resize(static_cast<size_t>(n_tokens));
  // The row kernels write columns [0, n_cols); the padding must read as zero levels.
  for (int t = 0; t < n_tokens; ++t) {
    int8_t* row = out->q.data() + static_cast<size_t>(t) * out->n_cols_padded;
    std::fill(row + n_cols, row + out->n_cols_padded, int8_t{0});
  }
}

// The scale from the absmax; one expression shared by every ISA so the result is bit-identical.
float ScaleFromAbsMax(float abs_max) { return 127.0f / std::max(abs_max, kQuantizeMinAbsMax); }

void QuantizeWith(const internal::KernelTable& table, const float* x, int n_tokens, int n_cols,
                  int ld_x, QuantizedActivations* out) {
  Prepare(n_tokens, n_cols, ld_x, out);
  for (int t = 0; t < n_tokens; ++t) {
    const float* row = x + static_cast<size_t>(t) * ld_x;
    const float s = ScaleFromAbsMax(table.abs_max(row, n_cols));
    out->scale[t] = s;
    out->sum[t] =
        table.quantize_row(row, n_cols, s, out->q.data() + static_cast<size_t>(t) * out->n_cols_padded);
  }
}

}  // namespace

void QuantizeActivations(const float* x, int n_tokens, int n_cols, int ld_x,
                         QuantizedActivations* out) {
  QuantizeWith(internal::ActiveTable(), x, n_tokens, n_cols, ld_x, out);
}

void QuantizeActivationsReference(const float* x, int n_tokens, int n_cols, int ld_x,
                                  QuantizedActivations* out) {
  Prepare(n_tokens, n_cols, ld_x, out);
  for (int t = 0; t < n_tokens; ++t) {
    const float* row = x + static_cast<size_t>(t) * ld_x;
    float abs_max = 0.0f;
    for (int c = 0; c < n_cols; ++c) abs_max = std::max(abs_max, std::fabs(row[c]));
    const float s = ScaleFromAbsMax(abs_max);
    int8_t* q = out->q.data() + static_cast<size_t>(t) * out->n_cols_padded;
    int32_t sum = 0;
    for (int c = 0; c < n_cols; ++c) {
      const float v = std::round(row[c] * s);
      q[c] = static_cast<int8_t>(std::clamp(v, -128.0f, 127.0f));
      sum += q[c];
    }
    out->scale[t] = s;
    out->sum[t] = sum;
  }
}

namespace internal::scalar {

float AbsMax(const float* x, int n) {
  float m = 0.0f;
  for (int i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

int32_t QuantizeRow(const float* x, int n, float s, int8_t* q) {
  int32_t sum = 0;
  for (int i = 0; i < n; ++i) {
    // Round half away from zero without a libm call: trunc, then step away if |frac| >= 0.5.
    // Exact for |v| < 2^23, and larger values clamp anyway.
    const float v = x[i] * s;
    const float clamped = std::clamp(v, -128.0f, 127.0f);
    const float whole = std::trunc(clamped);
    const float frac = clamped - whole;
    const float rounded = whole + (frac >= 0.5f ? 1.0f : 0.0f) - (frac <= -0.5f ? 1.0f : 0.0f);
    const int value = std::clamp(static_cast<int>(rounded), -128, 127);
    q[i] = static_cast<int8_t>(value);
    sum += value;
  }
  return sum;
}

}  // namespace internal::scalar
}  // namespace ts::kernels
