// RMSNorm, RoPE, softmax and element-wise ops against direct double-precision formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/softmax.h"
#include "tests/unit/kernels/test_util.h"

namespace ts::kernels {
namespace {

using testing::RandomFloats;

constexpr double kOpsRelTol = 1e-5;   // float ops vs double formulas
constexpr double kRopeAbsTol = 2e-5;  // |x| <= 1, angles computed in double

TEST(RmsNorm, MatchesFormulaStridedAndInPlace) {
  const int n_tokens = 3, n = 2560, ld = n + 7;
  const float eps = 1e-5f;
  const std::vector<float> x = RandomFloats(static_cast<size_t>(n_tokens) * ld, 1, -3, 3);
  const std::vector<float> weight = RandomFloats(n, 2, 0.5f, 1.5f);
  std::vector<float> out(x.size(), 0.0f);
  RmsNorm(x.data(), weight.data(), n_tokens, n, ld, eps, out.data());
  std::vector<float> in_place = x;
  RmsNorm(in_place.data(), weight.data(), n_tokens, n, ld, eps, in_place.data());
  for (int t = 0; t < n_tokens; ++t) {
    double sum_sq = 0;
    for (int i = 0; i < n; ++i) sum_sq += static_cast<double>(x[t * ld + i]) * x[t * ld + i];
    const double inv = 1.0 / std::sqrt(sum_sq / n + eps);
    for (int i = 0; i < n; ++i) {
      const double want = x[t * ld + i] * inv * weight[i];
      ASSERT_NEAR(out[t * ld + i], want, kOpsRelTol * std::fabs(want) + 1e-7);
      ASSERT_EQ(in_place[t * ld + i], out[t * ld + i]);
    }
  }
}

TEST(RmsNorm, ZeroInputGivesZero) {
  std::vector<float> x(16, 0.0f), w(16, 1.0f), out(16, 5.0f);
  RmsNorm(x.data(), w.data(), 1, 16, 16, 1e-6f, out.data());
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(RopeNeox, MatchesDirectFormula) {
  for (int pos : {0, 1, 17, 4095, 100000}) {
    const int n_heads = 3, head_dim = 128, n_rot = 96;
    const float base = 500000.0f;
    const std::vector<float> x = RandomFloats(static_cast<size_t>(n_heads) * head_dim, 3);
    std::vector<float> y = x;
    RopeNeox(y.data(), n_heads, head_dim, n_rot, pos, base);
    for (int h = 0; h < n_heads; ++h) {
      const float* xh = x.data() + h * head_dim;
      const float* yh = y.data() + h * head_dim;
      for (int i = 0; i < n_rot / 2; ++i) {
        const double theta = pos * std::pow(static_cast<double>(base), -2.0 * i / n_rot);
        const double a = xh[i], b = xh[i + n_rot / 2];
        ASSERT_NEAR(yh[i], a * std::cos(theta) - b * std::sin(theta), kRopeAbsTol) << pos << " " << i;
        ASSERT_NEAR(yh[i + n_rot / 2], a * std::sin(theta) + b * std::cos(theta), kRopeAbsTol);
      }
      for (int i = n_rot; i < head_dim; ++i) ASSERT_EQ(yh[i], xh[i]);  // untouched
    }
    if (pos == 0) {
      EXPECT_EQ(x, y);
    }
  }
}

TEST(RopeNeox, RejectsOddRot) {
  std::vector<float> x(8);
  EXPECT_THROW(RopeNeox(x.data(), 1, 8, 3, 1, 10000.0f), std::invalid_argument);
}

TEST(Softmax, MatchesFormulaAndHandlesLargeAndMasked) {
  std::vector<float> x = RandomFloats(1000, 4, -20, 20);
  x[3] = 1000.0f;  // would overflow exp() without max subtraction
  x[4] = -std::numeric_limits<float>::infinity();
  const std::vector<float> original = x;
  Softmax(x.data(), static_cast<int>(x.size()));
  double sum_exp = 0;
  for (float v : original) sum_exp += std::exp(static_cast<double>(v) - 1000.0);
  double total = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(original[i]) - 1000.0) / sum_exp;
    ASSERT_NEAR(x[i], want, kOpsRelTol * want + 1e-30) << i;
    total += x[i];
  }
  EXPECT_EQ(x[4], 0.0f);
  EXPECT_NEAR(total, 1.0, 1e-5);
  std::vector<float> uniform(7, 3.0f);
  Softmax(uniform.data(), 7);
  for (float v : uniform) EXPECT_NEAR(v, 1.0 / 7, 1e-7);
}

TEST(Elementwise, Formulas) {
  const int n = 37;
  const std::vector<float> gate = RandomFloats(n, 5, -4, 4), up = RandomFloats(n, 6, -2, 2);
  std::vector<float> out(n);
  SquaredReluMul(gate.data(), up.data(), out.data(), n);
  for (int i = 0; i < n; ++i) {
    const double g = std::max(0.0f, gate[i]);
    EXPECT_NEAR(out[i], g * g * up[i], kOpsRelTol * std::fabs(g * g * up[i]) + 1e-7);
  }
  SiluMul(gate.data(), up.data(), out.data(), n);
  for (int i = 0; i < n; ++i) {
    const double g = gate[i];
    const double want = g / (1.0 + std::exp(-g)) * up[i];
    EXPECT_NEAR(out[i], want, kOpsRelTol * std::fabs(want) + 1e-7);
  }
  std::vector<float> acc = gate;
  Add(acc.data(), up.data(), n);
  for (int i = 0; i < n; ++i) EXPECT_EQ(acc[i], gate[i] + up[i]);
}

}  // namespace
}  // namespace ts::kernels
