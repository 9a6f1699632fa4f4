#include "kernels/vector_ops.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/f16.h"
#include "kernels/internal/attention_q8.h"

namespace ts::kernels {
namespace scalar_ops {

float DotI8(const int8_t* row, const float* x, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += static_cast<float>(row[i]) * x[i];
  return sum;
}
float DotF16(const uint16_t* row, const float* x, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += F16ToF32(row[i]) * x[i];
  return sum;
}
float DotF32(const float* row, const float* x, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += row[i] * x[i];
  return sum;
}
void AxpyI8(const int8_t* row, float a, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * static_cast<float>(row[i]);
}
void AxpyF16(const uint16_t* row, float a, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * F16ToF32(row[i]);
}
void AxpyF32(const float* row, float a, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * row[i];
}

void KeyScoresQ8(const int8_t* codes, int ld, const float* scales, int n, int dim,
                 const int8_t* const* q, const float* q_scales, int m, float factor,
                 float* const* scores) {
  for (int i = 0; i < m; ++i) {
    const float query_factor = factor * q_scales[i];
    for (int j = 0; j < n; ++j) {
      int32_t dot = 0;
      for (int d = 0; d < dim; ++d) dot += codes[d * ld + j] * q[i][d];
      scores[i][j] = static_cast<float>(dot) * (query_factor * scales[j]);
    }
  }
}
void ValueSumQ8(const int8_t* codes, const float* scales, int n, int dim, const float* const* p,
                int m, float* const* out) {
  std::vector<uint8_t> levels(static_cast<size_t>(n));
  for (int i = 0; i < m; ++i) {
    const float step = ValueLevels(p[i], scales, n, levels.data());
    for (int d = 0; d < dim; ++d) {
      int32_t dot = 0;
      for (int j = 0; j < n; ++j)
        dot += levels[static_cast<size_t>(j)] * codes[ValueCodeIndex(j, d, dim)];
      out[i][d] += static_cast<float>(dot) * step;
    }
  }
}

double ExpSum(const float* x, int n, float shift, float scale, float* y) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const float e = std::exp((x[i] - shift) * scale);
    if (y != nullptr) y[i] = e;
    sum += e;
  }
  return sum;
}

}  // namespace scalar_ops

#if defined(TS_KERNELS_X86)
namespace avx2_ops {
float DotI8(const int8_t* row, const float* x, int n);
float DotF16(const uint16_t* row, const float* x, int n);
float DotF32(const float* row, const float* x, int n);
void AxpyI8(const int8_t* row, float a, float* y, int n);
void AxpyF16(const uint16_t* row, float a, float* y, int n);
void AxpyF32(const float* row, float a, float* y, int n);
double ExpSum(const float* x, int n, float shift, float scale, float* y);
}  // namespace avx2_ops
#endif

const VectorOps& VectorOpsFor(Isa isa) {
  static const VectorOps kScalar = {
      scalar_ops::DotI8,       scalar_ops::DotF16,     scalar_ops::DotF32,
      scalar_ops::AxpyI8,      scalar_ops::AxpyF16,    scalar_ops::AxpyF32,
      scalar_ops::KeyScoresQ8, scalar_ops::ValueSumQ8, scalar_ops::ExpSum};
#if defined(TS_KERNELS_X86)
  static const VectorOps kAvx2 = {avx2_ops::DotI8,       avx2_ops::DotF16,     avx2_ops::DotF32,
                                  avx2_ops::AxpyI8,      avx2_ops::AxpyF16,    avx2_ops::AxpyF32,
                                  avx2_ops::KeyScoresQ8, avx2_ops::ValueSumQ8, avx2_ops::ExpSum};
  static const VectorOps kAvx512 = [] {
    VectorOps ops = kAvx2;
    ops.key_scores_q8 = avx512_ops::KeyScoresQ8;
    ops.value_sum_q8 = avx512_ops::ValueSumQ8;
    return ops;
  }();
  if (isa >= Isa::kAvx512 && HasAvx512Vbmi()) return kAvx512;
  if (isa != Isa::kScalar) return kAvx2;
#else
  (void)isa;
#endif
  return kScalar;
}

const VectorOps& ActiveVectorOps() {
  static const VectorOps& ops = VectorOpsFor(ActiveIsa());
  return ops;
}

}  // namespace ts::kernels
