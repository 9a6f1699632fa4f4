#include "kernels/ternary_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "tests/unit/kernels/test_util.h"

namespace ts::kernels {
namespace {

using testing::RandomFloats;
using testing::RandomTrits;
using testing::ScopedIsa;
using testing::SupportedIsas;

// TernaryGemmF32 sums floats in a different order than a double reference.
constexpr float kF32GemmRelTol = 1e-5f;

// Computes the expected output straight from the unpacked trits (independent of the packing):
// the same integer dot and the same final float expression as the documented formula.
std::vector<float> ExpectedFromTrits(const std::vector<int8_t>& trits, int n_rows, int n_cols,
                                     float scale, const std::vector<float>& row_scale,
                                     const QuantizedActivations& x, int ld_y) {
  std::vector<float> y(static_cast<size_t>(std::max(x.n_tokens, 1)) * ld_y, -7.0f);
  for (int t = 0; t < x.n_tokens; ++t) {
    for (int r = 0; r < n_rows; ++r) {
      int32_t dot = 0;
      for (int c = 0; c < n_cols; ++c) {
        dot += trits[static_cast<size_t>(r) * n_cols + c] * x.q[static_cast<size_t>(t) * x.n_cols_padded + c];
      }
      float v = static_cast<float>(dot) / x.scale[t] * scale;
      if (!row_scale.empty()) v *= row_scale[r];
      y[static_cast<size_t>(t) * ld_y + r] = v;
    }
  }
  return y;
}

// Activations with the full int8 range, -128 included, to stress overflow-free accumulation.
QuantizedActivations ExtremeActivations(int n_tokens, int n_cols, uint32_t seed) {
  QuantizedActivations x;
  std::vector<float> dummy(static_cast<size_t>(n_tokens) * n_cols, 0.0f);
  QuantizeActivationsReference(dummy.data(), n_tokens, n_cols, n_cols, &x);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  for (int t = 0; t < n_tokens; ++t) {
    int32_t sum = 0;
    for (int c = 0; c < n_cols; ++c) {
      const int v = (c % 3 == 0) ? -128 : dist(rng);
      x.q[static_cast<size_t>(t) * x.n_cols_padded + c] = static_cast<int8_t>(v);
      sum += v;
    }
    x.sum[t] = sum;
    x.scale[t] = 0.37f + static_cast<float>(t);
  }
  return x;
}

void CheckAllIsas(int n_rows, int n_cols, int n_tokens, bool with_row_scale, bool extreme,
                  uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "rows=" << n_rows << " cols=" << n_cols
                                    << " tokens=" << n_tokens << " row_scale=" << with_row_scale
                                    << " extreme=" << extreme);
  const std::vector<int8_t> trits = RandomTrits(static_cast<size_t>(n_rows) * n_cols, seed);
  const float scale = 0.75f;
  TernaryMatrix w = PackTernary(trits.data(), n_rows, n_cols, scale);
  if (with_row_scale) w.row_scale = RandomFloats(static_cast<size_t>(n_rows), seed + 1, 0.5f, 2.0f);
  QuantizedActivations x;
  if (extreme) {
    x = ExtremeActivations(n_tokens, n_cols, seed + 2);
  } else {
    const std::vector<float> xf = RandomFloats(static_cast<size_t>(n_tokens) * n_cols, seed + 3, -2, 2);
    QuantizeActivations(xf.data(), n_tokens, n_cols, n_cols, &x);
  }
  const int ld_y = n_rows + 3;  // strided output
  const std::vector<float> expected =
      ExpectedFromTrits(trits, n_rows, n_cols, scale, w.row_scale, x, ld_y);

  std::vector<float> reference(expected.size(), -7.0f);
  TernaryGemmReference(w, x, reference.data(), ld_y);
  ASSERT_EQ(std::memcmp(reference.data(), expected.data(), expected.size() * sizeof(float)), 0)
      << "reference disagrees with the formula";

  ThreadPool pool(2);
  for (Isa isa : SupportedIsas()) {
    ScopedIsa scoped(isa);
    SCOPED_TRACE(IsaName(isa));
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<float> y(expected.size(), -7.0f);  // padding columns must stay untouched
      TernaryGemm(w, x, y.data(), ld_y, p);
      for (size_t i = 0; i < y.size(); ++i) {
        // Bit-identical: exact int32 sums, shared final float expression.
        ASSERT_EQ(y[i], expected[i]) << "index " << i << " threads " << (p ? 2 : 1);
      }
    }
  }
}

TEST(TernaryGemm, AllIsasBitIdenticalOnAwkwardShapes) {
  uint32_t seed = 1;
  for (int n_cols : {1, 64, 100, 256, 300, 2560}) {
    for (int n_rows : {1, 3, 17, 640}) {
      for (int n_tokens : {1, 2, 7, 20, 130}) {
        // Keep the scalar references affordable; big shapes are covered below.
        if (static_cast<long>(n_rows) * n_cols * n_tokens > 4'000'000L) continue;
        CheckAllIsas(n_rows, n_cols, n_tokens, false, false, seed++);
      }
    }
  }
}

TEST(TernaryGemm, LargeShapes) {
  CheckAllIsas(640, 2560, 7, false, false, 101);
  CheckAllIsas(17, 2560, 130, true, false, 102);
  CheckAllIsas(259, 6912, 9, false, false, 103);
}

TEST(TernaryGemm, RowScaleAndExtremeActivations) {
  CheckAllIsas(17, 300, 7, true, false, 201);
  CheckAllIsas(33, 2560, 1, false, true, 202);
  CheckAllIsas(33, 2560, 9, true, true, 203);
  CheckAllIsas(5, 100, 130, false, true, 204);
}

TEST(TernaryGemm, AllOnesWithMinimalActivationsDoesNotOverflow) {
  // Every weight +1 (code 2) against q = -128: the largest magnitudes any lane can see.
  const int n_rows = 8, n_cols = 6912;
  std::vector<int8_t> trits(static_cast<size_t>(n_rows) * n_cols, 1);
  for (int c = 0; c < n_cols; ++c) trits[static_cast<size_t>(n_cols) + c] = -1;  // row 1: all -1
  const TernaryMatrix w = PackTernary(trits.data(), n_rows, n_cols, 1.0f);
  std::vector<float> xf(static_cast<size_t>(3) * n_cols, -1.0f);
  QuantizedActivations x;
  QuantizeActivations(xf.data(), 3, n_cols, n_cols, &x);
  ASSERT_EQ(x.q[0], -127);
  for (size_t i = 0; i < static_cast<size_t>(n_cols); ++i) x.q[i] = -128;
  x.sum[0] = -128 * n_cols;
  for (Isa isa : SupportedIsas()) {
    ScopedIsa scoped(isa);
    for (int n_tokens : {1, 3}) {
      x.n_tokens = n_tokens;
      std::vector<float> y(static_cast<size_t>(n_tokens) * n_rows);
      TernaryGemm(w, x, y.data(), n_rows, nullptr);
      EXPECT_EQ(y[0], static_cast<float>(-128 * n_cols) / x.scale[0]) << IsaName(isa);
      EXPECT_EQ(y[1], static_cast<float>(128 * n_cols) / x.scale[0]) << IsaName(isa);
    }
  }
}

TEST(TernaryGemm, ManyMatchesOneByOne) {
  // Row counts that leave pieces straddling two matrices, and a matrix smaller than a piece.
  const int n_cols = 300;
  const int row_counts[] = {70, 5, 130};
  std::vector<TernaryMatrix> matrices;
  uint32_t seed = 301;
  for (int n_rows : row_counts) {
    const std::vector<int8_t> trits = RandomTrits(static_cast<size_t>(n_rows) * n_cols, seed++);
    matrices.push_back(
        PackTernary(trits.data(), n_rows, n_cols, 0.5f + static_cast<float>(seed % 3)));
  }
  ThreadPool pool(2);
  for (int n_tokens : {1, 7, 20}) {
    const std::vector<float> xf = RandomFloats(static_cast<size_t>(n_tokens) * n_cols, seed++);
    QuantizedActivations x;
    QuantizeActivations(xf.data(), n_tokens, n_cols, n_cols, &x);
    for (Isa isa : SupportedIsas()) {
      ScopedIsa scoped(isa);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::vector<std::vector<float>> want, got;
        std::vector<TernaryGemmOutput> outputs;
        for (const TernaryMatrix& w : matrices) {
          want.emplace_back(static_cast<size_t>(n_tokens) * w.n_rows, -7.0f);
          got.emplace_back(static_cast<size_t>(n_tokens) * w.n_rows, -7.0f);
          TernaryGemm(w, x, want.back().data(), w.n_rows, nullptr);
        }
        for (size_t j = 0; j < matrices.size(); ++j) {
          outputs.push_back({&matrices[j], got[j].data(), matrices[j].n_rows});
        }
        TernaryGemmMany(outputs, x, p);
        for (size_t j = 0; j < matrices.size(); ++j) {
          ASSERT_EQ(got[j], want[j]) << IsaName(isa) << " matrix " << j << " tokens " << n_tokens;
        }
      }
    }
  }
}

TEST(TernaryGemm, PackRejectsNonTernary) {
  std::vector<int8_t> trits = {0, 1, -1, 2};
  EXPECT_THROW(PackTernary(trits.data(), 1, 4, 1.0f), std::invalid_argument);
  trits[3] = -2;
  EXPECT_THROW(PackTernary(trits.data(), 2, 2, 1.0f), std::invalid_argument);
}

TEST(TernaryGemm, PackRoundTripsAndSize) {
  const int n_rows = 7, n_cols = 300;
  const std::vector<int8_t> trits = RandomTrits(static_cast<size_t>(n_rows) * n_cols, 9);
  const TernaryMatrix w = PackTernary(trits.data(), n_rows, n_cols, 2.0f);
  for (int r = 0; r < n_rows; ++r) {
    for (int c = 0; c < n_cols; ++c) ASSERT_EQ(TernaryAt(w, r, c), trits[static_cast<size_t>(r) * n_cols + c]);
  }
  EXPECT_EQ(w.n_cols_padded(), 512);
  // 2 row blocks of 4 rows x 512 columns x 2 bits.
  EXPECT_EQ(w.bytes(), static_cast<size_t>(8 * 512 / 4));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.packed.data()) % 64, 0u);
}

TEST(TernaryGemm, MismatchedWidthThrows) {
  const std::vector<int8_t> trits = RandomTrits(4 * 64, 1);
  const TernaryMatrix w = PackTernary(trits.data(), 4, 64, 1.0f);
  std::vector<float> xf(65, 1.0f);
  QuantizedActivations x;
  QuantizeActivations(xf.data(), 1, 65, 65, &x);
  std::vector<float> y(4);
  EXPECT_THROW(TernaryGemm(w, x, y.data(), 4, nullptr), std::invalid_argument);
}

TEST(TernaryGemmF32, MatchesDoubleFormula) {
  ThreadPool pool(2);
  for (int n_cols : {1, 100, 2560}) {
    const int n_rows = 19, n_tokens = 3, ld_x = n_cols + 5, ld_y = n_rows + 1;
    const std::vector<int8_t> trits = RandomTrits(static_cast<size_t>(n_rows) * n_cols, 4);
    TernaryMatrix w = PackTernary(trits.data(), n_rows, n_cols, 0.5f);
    w.row_scale = RandomFloats(n_rows, 5, 0.5f, 1.5f);
    const std::vector<float> x = RandomFloats(static_cast<size_t>(n_tokens) * ld_x, 6);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<float> y(static_cast<size_t>(n_tokens) * ld_y);
      TernaryGemmF32(w, x.data(), n_tokens, ld_x, y.data(), ld_y, p);
      for (int t = 0; t < n_tokens; ++t) {
        for (int r = 0; r < n_rows; ++r) {
          double sum = 0, abs_sum = 0;
          for (int c = 0; c < n_cols; ++c) {
            const double term = trits[static_cast<size_t>(r) * n_cols + c] * static_cast<double>(x[static_cast<size_t>(t) * ld_x + c]);
            sum += term;
            abs_sum += std::fabs(term);
          }
          const double expected = sum * 0.5 * w.row_scale[r];
          EXPECT_NEAR(y[static_cast<size_t>(t) * ld_y + r], expected, kF32GemmRelTol * (abs_sum + 1.0))
              << t << " " << r;
        }
      }
    }
  }
}

TEST(TernaryGemm, QuantizedCloseToFloat) {
  // The W1.58A8 result approximates the float product within the int8 rounding error:
  // |error| <= sum_c |w_c| * 0.5 / s  per output (times the weight scale).
  const int n_rows = 64, n_cols = 2560;
  const std::vector<int8_t> trits = RandomTrits(static_cast<size_t>(n_rows) * n_cols, 11);
  const TernaryMatrix w = PackTernary(trits.data(), n_rows, n_cols, 1.0f);
  const std::vector<float> xf = RandomFloats(n_cols, 12);
  QuantizedActivations x;
  QuantizeActivations(xf.data(), 1, n_cols, n_cols, &x);
  std::vector<float> yq(n_rows), yf(n_rows);
  TernaryGemm(w, x, yq.data(), n_rows, nullptr);
  TernaryGemmF32(w, xf.data(), 1, n_cols, yf.data(), n_rows, nullptr);
  for (int r = 0; r < n_rows; ++r) {
    EXPECT_NEAR(yq[r], yf[r], 0.5 * n_cols / x.scale[0]) << r;
  }
}

}  // namespace
}  // namespace ts::kernels
