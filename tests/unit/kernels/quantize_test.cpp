#include "kernels/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "tests/unit/kernels/test_util.h"

namespace ts::kernels {
namespace {

using testing::RandomFloats;
using testing::ScopedIsa;
using testing::SupportedIsas;

void ExpectIdentical(const QuantizedActivations& a, const QuantizedActivations& b) {
  ASSERT_EQ(a.n_tokens, b.n_tokens);
  ASSERT_EQ(a.n_cols, b.n_cols);
  ASSERT_EQ(a.n_cols_padded, b.n_cols_padded);
  ASSERT_EQ(a.sum, b.sum);
  for (int t = 0; t < a.n_tokens; ++t) ASSERT_EQ(a.scale[t], b.scale[t]) << t;
  for (size_t i = 0; i < a.q.size(); ++i) ASSERT_EQ(a.q[i], b.q[i]) << i;
}

TEST(Quantize, EveryIsaMatchesReferenceOnAwkwardShapes) {
  for (Isa isa : SupportedIsas()) {
    ScopedIsa scoped(isa);
    SCOPED_TRACE(IsaName(isa));
    for (int n_cols : {0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 300, 2560, 6912}) {
      for (int n_tokens : {1, 2, 5}) {
        for (int offset : {0, 1, 3}) {  // misaligned starts and ld_x > n_cols
          const int ld_x = n_cols + offset + 2;
          std::vector<float> buffer = RandomFloats(static_cast<size_t>(n_tokens) * ld_x + offset,
                                                   static_cast<uint32_t>(n_cols * 31 + n_tokens), -3, 3);
          const float* x = buffer.data() + offset;
          QuantizedActivations got, want;
          QuantizeActivations(x, n_tokens, n_cols, ld_x, &got);
          QuantizeActivationsReference(x, n_tokens, n_cols, ld_x, &want);
          SCOPED_TRACE(::testing::Message() << "n_cols=" << n_cols << " n_tokens=" << n_tokens);
          ExpectIdentical(got, want);
          EXPECT_EQ(got.n_cols_padded % kTernaryColAlign, 0);
          EXPECT_GE(got.n_cols_padded, n_cols);
        }
      }
    }
  }
}

TEST(Quantize, ReferenceFollowsTheFormula) {
  const int n = 50;
  std::vector<float> x = RandomFloats(n, 3, -5, 5);
  QuantizedActivations out;
  QuantizeActivationsReference(x.data(), 1, n, n, &out);
  float abs_max = 0;
  for (float v : x) abs_max = std::max(abs_max, std::fabs(v));
  const float s = 127.0f / abs_max;
  EXPECT_EQ(out.scale[0], s);
  int32_t sum = 0;
  for (int i = 0; i < n; ++i) {
    const int expected = static_cast<int>(std::clamp(std::roundf(x[i] * s), -128.0f, 127.0f));
    EXPECT_EQ(out.q[i], expected) << i;
    sum += expected;
  }
  EXPECT_EQ(out.sum[0], sum);
  for (int i = n; i < out.n_cols_padded; ++i) EXPECT_EQ(out.q[i], 0);
}

TEST(Quantize, EdgeCases) {
  for (Isa isa : SupportedIsas()) {
    ScopedIsa scoped(isa);
    SCOPED_TRACE(IsaName(isa));
    // All zeros: scale from the 1e-5 floor, q = 0.
    {
      std::vector<float> x(40, 0.0f);
      QuantizedActivations out;
      QuantizeActivations(x.data(), 1, 40, 40, &out);
      EXPECT_EQ(out.scale[0], 127.0f / kQuantizeMinAbsMax);
      EXPECT_EQ(out.sum[0], 0);
      for (int i = 0; i < 40; ++i) EXPECT_EQ(out.q[i], 0);
    }
    // Huge values: +-127 at the extremes, no overflow to inf/nan.
    {
      std::vector<float> x = {3e38f, -3e38f, 1.5e38f, 0.0f, -1e30f};
      x.resize(37, 1e37f);
      QuantizedActivations out;
      QuantizeActivations(x.data(), 1, 37, 37, &out);
      EXPECT_EQ(out.q[0], 127);
      EXPECT_EQ(out.q[1], -127);
      EXPECT_TRUE(out.q[2] == 63 || out.q[2] == 64) << int{out.q[2]};  // ~63.5
      EXPECT_EQ(out.q[3], 0);
      EXPECT_EQ(out.q[4], 0);
    }
    // Ties: with max |x| = 127 the scale is exactly 1, so x * s = x.
    {
      std::vector<float> x = {127.0f, 0.5f,  -0.5f, 1.5f,  -1.5f, 2.5f, -2.5f,
                              0.49999997f, -0.49999997f, 126.5f, -126.5f, 0.0f, -127.0f};
      const std::vector<int> expected = {127, 1, -1, 2, -2, 3, -3, 0, 0, 127, -127, 0, -127};
      // Repeat the pattern so SIMD bodies (not only tails) see the ties.
      std::vector<float> row;
      std::vector<int> want;
      for (int rep = 0; rep < 6; ++rep) {
        row.insert(row.end(), x.begin(), x.end());
        want.insert(want.end(), expected.begin(), expected.end());
      }
      QuantizedActivations out;
      QuantizeActivations(row.data(), 1, static_cast<int>(row.size()),
                          static_cast<int>(row.size()), &out);
      ASSERT_EQ(out.scale[0], 1.0f);
      int32_t sum = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(out.q[i], want[i]) << i;
        sum += want[i];
      }
      EXPECT_EQ(out.sum[0], sum);
    }
  }
}

TEST(Quantize, ReusesAndZeroesPadding) {
  QuantizedActivations out;
  std::vector<float> wide = RandomFloats(600, 5);
  QuantizeActivations(wide.data(), 1, 600, 600, &out);
  std::vector<float> narrow(10, 1.0f);
  QuantizeActivations(narrow.data(), 1, 10, 10, &out);
  EXPECT_EQ(out.n_cols_padded, 256);
  for (int i = 10; i < 256; ++i) ASSERT_EQ(out.q[i], 0) << i;
  EXPECT_EQ(out.sum[0], 1270);
}

}  // namespace
}  // namespace ts::kernels
