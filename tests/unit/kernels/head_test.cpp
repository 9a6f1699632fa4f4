#include "kernels/head.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/f16.h"
#include "tests/unit/kernels/test_util.h"

namespace ts::kernels {
namespace {

using testing::RandomFloats;
using testing::ScopedIsa;
using testing::SupportedIsas;

// SIMD variants sum in a different order than the reference: allow a few float ulps of the
// sum of |terms| (n_cols up to a few thousand).
constexpr double kHeadRelTol = 2e-6;
// The reference against a double dot product of the dequantized weights.
constexpr double kHeadRefRelTol = 1e-5;

std::vector<float> Dequantized(const HeadMatrix& w) {
  std::vector<float> out(static_cast<size_t>(w.n_rows) * w.n_cols);
  for (int r = 0; r < w.n_rows; ++r) HeadRow(w, r, out.data() + static_cast<size_t>(r) * w.n_cols);
  return out;
}

// The activations a Q8/Q4 head multiplies: x quantized to int8 with one scale per block of 32
// (absmax / max_level, rounded half away from zero), the same float operations as the head,
// then dequantized. Also returns each column's bound on the rounding error (half a step).
std::pair<std::vector<float>, std::vector<float>> QuantizedActivations(const float* x, int n,
                                                                       float max_level) {
  std::vector<float> deq(n), half_step(n);
  for (int b0 = 0; b0 < n; b0 += kHeadQ8Block) {
    const int b1 = std::min(n, b0 + kHeadQ8Block);
    float abs_max = 0.0f;
    for (int c = b0; c < b1; ++c) abs_max = std::max(abs_max, std::fabs(x[c]));
    const float d = abs_max / max_level;
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    for (int c = b0; c < b1; ++c) {
      deq[c] = d * std::clamp(std::round(x[c] * inv), -max_level, max_level);
      half_step[c] = 0.5f * d;
    }
  }
  return {deq, half_step};
}

void CheckShape(HeadType type, int n_rows, int n_cols, int n_tokens, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << HeadTypeName(type) << " rows=" << n_rows
                                    << " cols=" << n_cols << " tokens=" << n_tokens);
  const std::vector<float> wf = RandomFloats(static_cast<size_t>(n_rows) * n_cols, seed);
  const HeadMatrix w = HeadFromF32(wf.data(), n_rows, n_cols, type);
  const int ld_x = n_cols + 1, ld_logits = n_rows + 2;
  const std::vector<float> buffer = RandomFloats(static_cast<size_t>(n_tokens) * ld_x + 1, seed + 1);
  const float* x = buffer.data() + 1;  // misaligned
  const std::vector<float> deq = Dequantized(w);

  std::vector<float> reference(static_cast<size_t>(n_tokens) * ld_logits, -9.0f);
  HeadGemmReference(w, x, n_tokens, ld_x, reference.data(), ld_logits);
  const bool int8_activations = type == HeadType::kQ8 || type == HeadType::kQ4;
  std::vector<double> abs_sums(reference.size(), 0.0);
  for (int t = 0; t < n_tokens; ++t) {
    const float* xt = x + static_cast<size_t>(t) * ld_x;
    // Q8 weights go up to 255 unsigned, so its activations stay within +-63 (head.h).
    const auto [xq, half_step] =
        QuantizedActivations(xt, n_cols, type == HeadType::kQ8 ? 63.0f : 127.0f);
    for (int r = 0; r < n_rows; ++r) {
      // sum: what the head computes (exactly, in double); exact: with float activations.
      double sum = 0, abs_sum = 0, exact = 0, activation_error = 0;
      for (int c = 0; c < n_cols; ++c) {
        const double wc = deq[static_cast<size_t>(r) * n_cols + c];
        const double term = wc * (int8_activations ? xq[c] : xt[c]);
        sum += term;
        abs_sum += std::fabs(term);
        exact += wc * xt[c];
        activation_error += std::fabs(wc) * half_step[c];
      }
      const size_t i = static_cast<size_t>(t) * ld_logits + r;
      abs_sums[i] = abs_sum;
      ASSERT_NEAR(reference[i], sum, kHeadRefRelTol * abs_sum + 1e-30) << "reference r=" << r;
      if (int8_activations) {
        ASSERT_NEAR(reference[i], exact, activation_error * 1.001 + kHeadRefRelTol * abs_sum + 1e-30)
            << "int8 activations r=" << r;
      }
    }
  }
  ThreadPool pool(2);
  for (Isa isa : SupportedIsas()) {
    ScopedIsa scoped(isa);
    SCOPED_TRACE(IsaName(isa));
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<float> logits(reference.size(), -9.0f);
      HeadGemm(w, x, n_tokens, ld_x, logits.data(), ld_logits, p);
      for (size_t i = 0; i < logits.size(); ++i) {
        if (reference[i] == -9.0f) {
          ASSERT_EQ(logits[i], -9.0f) << "wrote outside the output at " << i;
        } else {
          ASSERT_NEAR(logits[i], reference[i], kHeadRelTol * abs_sums[i] + 1e-30) << i;
        }
      }
    }
  }
}

TEST(Head, AllTypesAllIsasMatchReference) {
  uint32_t seed = 1;
  for (HeadType type : {HeadType::kF32, HeadType::kF16, HeadType::kQ8, HeadType::kQ4}) {
    for (int n_rows : {1, 3, 33, 100}) {
      for (int n_cols : {1, 31, 64, 100, 2560}) {
        // 17: more than two token tiles of every ISA.
        for (int n_tokens : {1, 2, 5, 8, 11, 17}) {
          CheckShape(type, n_rows, n_cols, n_tokens, seed++);
        }
      }
    }
    CheckShape(type, 300, 200, 3, seed++);  // rows in more than one piece of a thread
  }
}

TEST(Head, RowsDequantize) {
  const int n_rows = 5, n_cols = 70;
  const std::vector<float> wf = RandomFloats(static_cast<size_t>(n_rows) * n_cols, 3, -4, 4);
  std::vector<float> row(n_cols);
  const HeadMatrix f32 = HeadFromF32(wf.data(), n_rows, n_cols, HeadType::kF32);
  const HeadMatrix f16 = HeadFromF32(wf.data(), n_rows, n_cols, HeadType::kF16);
  const HeadMatrix q8 = HeadFromF32(wf.data(), n_rows, n_cols, HeadType::kQ8);
  const HeadMatrix q4 = HeadFromF32(wf.data(), n_rows, n_cols, HeadType::kQ4);
  // Q8/Q4 store whole groups of kHeadRowGroup rows.
  EXPECT_EQ(q4.data.size(), static_cast<size_t>(kHeadRowGroup) * q4.stride() / 2);
  for (int r = 0; r < n_rows; ++r) {
    const float* want = wf.data() + static_cast<size_t>(r) * n_cols;
    HeadRow(f32, r, row.data());
    for (int c = 0; c < n_cols; ++c) ASSERT_EQ(row[c], want[c]);
    HeadRow(f16, r, row.data());
    for (int c = 0; c < n_cols; ++c) ASSERT_EQ(row[c], F16ToF32(F32ToF16(want[c])));
    // Q8 (levels of absmax / 127) and Q4 (levels -7..7 of absmax / 7) err by at most half a
    // step of their block's scale.
    for (const auto& [w, levels] : {std::pair{&q8, 127.0}, std::pair{&q4, 7.0}}) {
      HeadRow(*w, r, row.data());
      for (int c = 0; c < n_cols; ++c) {
        float abs_max = 0;
        const int b0 = c / kHeadQ8Block * kHeadQ8Block;
        for (int j = b0; j < std::min(n_cols, b0 + kHeadQ8Block); ++j) abs_max = std::max(abs_max, std::fabs(want[j]));
        ASSERT_NEAR(row[c], want[c], 0.5 * abs_max / levels * 1.0001) << HeadTypeName(w->type) << " " << r << " " << c;
      }
    }
  }
  EXPECT_THROW(HeadRow(q8, n_rows, row.data()), std::out_of_range);
}

TEST(Head, FromF16KeepsBitsAndConverts) {
  const int n_rows = 3, n_cols = 40;
  std::vector<uint16_t> bits(static_cast<size_t>(n_rows) * n_cols);
  const std::vector<float> wf = RandomFloats(bits.size(), 8);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = F32ToF16(wf[i]);
  const HeadMatrix f16 = HeadFromF16(bits.data(), n_rows, n_cols, HeadType::kF16);
  for (int r = 0; r < n_rows; ++r) {
    ASSERT_EQ(std::memcmp(f16.data.data() + static_cast<size_t>(r) * f16.stride() * 2,
                          bits.data() + static_cast<size_t>(r) * n_cols, n_cols * 2),
              0);
  }
  const HeadMatrix f32 = HeadFromF16(bits.data(), n_rows, n_cols, HeadType::kF32);
  std::vector<float> row(n_cols);
  HeadRow(f32, 2, row.data());
  for (int c = 0; c < n_cols; ++c) EXPECT_EQ(row[c], F16ToF32(bits[static_cast<size_t>(2) * n_cols + c]));
  EXPECT_EQ(f16.bytes(), static_cast<size_t>(n_rows) * 64 * 2);
  const HeadMatrix q8 = HeadFromF16(bits.data(), n_rows, n_cols, HeadType::kQ8);
  EXPECT_EQ(q8.bytes(),
            static_cast<size_t>(kHeadRowGroup) * 64 + kHeadRowGroup * 2 * sizeof(float));
}

TEST(Head, Q8RoundsHalvesAwayFromZero) {
  // absmax 127 makes the block scale exactly 1, so the stored levels are round(w) themselves.
  const std::vector<float> wf = {
      127.0f,  0.5f,        -0.5f,        1.5f,       -1.5f,   2.5f,     -2.5f,  126.5f,
      -126.5f, 0.49999997f, -0.49999997f, 3.4999998f, 0.0f,    -0.0f,    1e-30f, -127.0f,
      5.75f,   -5.25f,      64.5f,        -64.5f,     100.49f, -100.51f, 7.0f,   -7.0f,
      0.25f,   -0.75f,      9.5f,         -9.5f,      11.5f,   -11.5f,   13.5f,  126.99f};
  ASSERT_EQ(wf.size(), static_cast<size_t>(kHeadQ8Block));
  const HeadMatrix q8 = HeadFromF32(wf.data(), 1, kHeadQ8Block, HeadType::kQ8);
  std::vector<float> row(kHeadQ8Block);
  HeadRow(q8, 0, row.data());
  for (int c = 0; c < kHeadQ8Block; ++c) EXPECT_EQ(row[c], std::round(wf[c]) + 0.0f) << wf[c];
}

TEST(Head, ZeroRowQ8) {
  std::vector<float> wf(64, 0.0f);
  const HeadMatrix q8 = HeadFromF32(wf.data(), 1, 64, HeadType::kQ8);
  std::vector<float> x(64, 1.0f);
  float logit = 1.0f;
  HeadGemm(q8, x.data(), 1, 64, &logit, 1, nullptr);
  EXPECT_EQ(logit, 0.0f);
}

}  // namespace
}  // namespace ts::kernels
