// Attention's row kernels: every ISA against the scalar reference, on odd lengths
// and misaligned pointers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/f16.h"
#include "kernels/vector_ops.h"

namespace ts::kernels {
namespace {

constexpr float kRelTolerance = 1e-5f;  // float sums in another order

TEST(VectorOps, EveryIsaMatchesScalar) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  const VectorOps& ref = VectorOpsFor(Isa::kScalar);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(DetectBestIsa())) continue;
    const VectorOps& ops = VectorOpsFor(isa);
    for (int n : {0, 1, 7, 8, 15, 16, 17, 33, 64, 100, 128}) {
      for (int misalign : {0, 1, 3}) {
        std::vector<float> x(static_cast<size_t>(n + misalign)), f32(x.size()), y(x.size()), y_ref(x.size());
        std::vector<int8_t> i8(x.size());
        std::vector<uint16_t> f16(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          x[i] = dist(rng);
          f32[i] = dist(rng);
          i8[i] = static_cast<int8_t>(static_cast<int>(dist(rng) * 63));
          f16[i] = F32ToF16(dist(rng));
          y[i] = y_ref[i] = dist(rng);
        }
        const float* xs = x.data() + misalign;
        auto close = [&](float a, float b) { return std::fabs(a - b) <= kRelTolerance * (1.0f + std::fabs(b)) * 64; };
        SCOPED_TRACE("isa " + std::string(IsaName(isa)) + " n " + std::to_string(n) + " misalign " + std::to_string(misalign));
        EXPECT_TRUE(close(ops.dot_i8(i8.data() + misalign, xs, n), ref.dot_i8(i8.data() + misalign, xs, n)));
        EXPECT_TRUE(close(ops.dot_f16(f16.data() + misalign, xs, n), ref.dot_f16(f16.data() + misalign, xs, n)));
        EXPECT_TRUE(close(ops.dot_f32(f32.data() + misalign, xs, n), ref.dot_f32(f32.data() + misalign, xs, n)));
        ops.axpy_i8(i8.data() + misalign, 0.75f, y.data() + misalign, n);
        ref.axpy_i8(i8.data() + misalign, 0.75f, y_ref.data() + misalign, n);
        ops.axpy_f16(f16.data() + misalign, -1.5f, y.data() + misalign, n);
        ref.axpy_f16(f16.data() + misalign, -1.5f, y_ref.data() + misalign, n);
        ops.axpy_f32(f32.data() + misalign, 0.25f, y.data() + misalign, n);
        ref.axpy_f32(f32.data() + misalign, 0.25f, y_ref.data() + misalign, n);
        for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], y_ref[i], 1e-4f) << i;
      }
    }
  }
}

TEST(VectorOps, ScalarReferenceIsTheFormula) {
  const std::vector<int8_t> row = {1, -2, 3};
  const std::vector<float> x = {0.5f, 0.25f, 2.0f};
  EXPECT_FLOAT_EQ(VectorOpsFor(Isa::kScalar).dot_i8(row.data(), x.data(), 3), 0.5f - 0.5f + 6.0f);
}

}  // namespace
}  // namespace ts::kernels
