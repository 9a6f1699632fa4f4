// Attention's row kernels: every ISA against the scalar reference, on odd lengths
// and misaligned pointers.
#include "kernels/vector_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/f16.h"

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

// The int8 attention kernels on every shape class: 16-key blocks (the SIMD key scores) and
// other widths (their scalar fallback), dimensions a multiple of 4, of 2 only (AVX-512 falls
// back, AVX2 does not) or odd (value sums: SIMD for multiples of 8 on AVX2, 16 on AVX-512), and
// query counts across the passes of 4 (AVX2) and 8 (AVX-512).
// Both kernels are exact integer sums: equal bits.
TEST(VectorOps, Int8AttentionBlocksMatchScalar) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::uniform_int_distribution<int> code(-127, 127);
  const VectorOps& ref = VectorOpsFor(Isa::kScalar);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(DetectBestIsa())) continue;
    const VectorOps& ops = VectorOpsFor(isa);
    for (int dim : {1, 7, 8, 24, 128, 130}) {
      for (int n : {1, 5, 8, 13, 16, 40, 70}) {
        for (int ld : {n, n + 3, (n + 15) / 16 * 16}) {
          for (int m : {1, 3, 4, 6, 9, 17}) {
            SCOPED_TRACE("isa " + std::string(IsaName(isa)) + " dim " + std::to_string(dim) +
                         " n " + std::to_string(n) + " ld " + std::to_string(ld) + " m " +
                         std::to_string(m));
            // Values in quads of 4 rows, the last one padded (the SIMD kernels read it).
            std::vector<int8_t> keys(static_cast<size_t>(dim) * ld),
                values(static_cast<size_t>((n + 3) / 4 * 4) * dim);
            for (int8_t& c : keys) c = static_cast<int8_t>(code(rng));
            for (int8_t& c : values) c = static_cast<int8_t>(code(rng));
            std::vector<float> scales(static_cast<size_t>(n));
            for (float& s : scales) s = std::fabs(dist(rng)) / 127.0f;
            std::vector<std::vector<float>> scores(m), want_scores(m), out(m), want_out(m);
            std::vector<const float*> p_ptr;
            std::vector<float*> score_ptr, want_score_ptr, out_ptr, want_out_ptr;
            for (int i = 0; i < m; ++i) {
              for (int d = 0; d < dim; ++d) out[i].push_back(dist(rng));
              want_out[i] = out[i];
              scores[i].assign(static_cast<size_t>(n), 0.0f);
              want_scores[i] = scores[i];
              score_ptr.push_back(scores[i].data());
              want_score_ptr.push_back(want_scores[i].data());
              out_ptr.push_back(out[i].data());
              want_out_ptr.push_back(want_out[i].data());
            }
            // int8 queries: exact integer dot products, so the same bits on every ISA.
            std::vector<std::vector<int8_t>> q8(static_cast<size_t>(m));
            std::vector<const int8_t*> q8_ptr;
            std::vector<float> q8_scales;
            for (int i = 0; i < m; ++i) {
              for (int d = 0; d < dim; ++d) q8[i].push_back(static_cast<int8_t>(code(rng)));
              q8_ptr.push_back(q8[i].data());
              q8_scales.push_back(std::fabs(dist(rng)) / 127.0f);
            }
            ops.key_scores_q8(keys.data(), ld, scales.data(), n, dim, q8_ptr.data(),
                              q8_scales.data(), m, 0.5f, score_ptr.data());
            ref.key_scores_q8(keys.data(), ld, scales.data(), n, dim, q8_ptr.data(),
                              q8_scales.data(), m, 0.5f, want_score_ptr.data());
            for (int i = 0; i < m; ++i) ASSERT_EQ(scores[i], want_scores[i]) << i;
            // Weights >= 0 like softmax's, one query all zeros; value sums exact too.
            std::vector<std::vector<float>> weights(static_cast<size_t>(m));
            for (int i = 0; i < m; ++i) {
              for (int j = 0; j < n; ++j)
                weights[i].push_back(i == 1 ? 0.0f : std::fabs(dist(rng)));
              p_ptr.push_back(weights[i].data());
            }
            ops.value_sum_q8(values.data(), scales.data(), n, dim, p_ptr.data(), m, out_ptr.data());
            ref.value_sum_q8(values.data(), scales.data(), n, dim, p_ptr.data(), m,
                             want_out_ptr.data());
            for (int i = 0; i < m; ++i) ASSERT_EQ(out[i], want_out[i]) << i;
          }
        }
      }
    }
  }
}

// exp_sum: the AVX2 polynomial within 2 ulp of std::exp over softmax's whole input range,
// 0 for -inf and below expf's normal range, in place or not, and the double sum.
TEST(VectorOps, ExpSumMatchesScalar) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-95.0f, 5.0f);
  const VectorOps& ref = VectorOpsFor(Isa::kScalar);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(DetectBestIsa())) continue;
    const VectorOps& ops = VectorOpsFor(isa);
    for (int n : {1, 7, 8, 9, 100, 1000}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (float& v : x) v = dist(rng);
      x[0] = 5.0f;  // the shift: every term <= 1
      if (n > 2) x[2] = -std::numeric_limits<float>::infinity();
      if (n > 3) x[3] = 5.0f - 1e-6f;
      for (float scale : {1.0f, 1.25f}) {
        SCOPED_TRACE("isa " + std::string(IsaName(isa)) + " n " + std::to_string(n) + " scale " +
                     std::to_string(scale));
        std::vector<float> y(x.size()), want(x.size()), in_place = x;
        const double sum = ops.exp_sum(x.data(), n, 5.0f, scale, y.data());
        const double want_sum = ref.exp_sum(x.data(), n, 5.0f, scale, want.data());
        EXPECT_NEAR(sum, want_sum, 1e-6 * want_sum);
        EXPECT_EQ(ops.exp_sum(in_place.data(), n, 5.0f, scale, in_place.data()), sum);
        EXPECT_EQ(ops.exp_sum(x.data(), n, 5.0f, scale, nullptr), sum);
        for (int i = 0; i < n; ++i) {
          ASSERT_NEAR(y[static_cast<size_t>(i)], want[static_cast<size_t>(i)],
                      2.4e-7f * want[static_cast<size_t>(i)] + 1.2e-38f)
              << "x = " << x[static_cast<size_t>(i)];
          ASSERT_EQ(in_place[static_cast<size_t>(i)], y[static_cast<size_t>(i)]);
        }
        if (n > 2) {
          EXPECT_EQ(y[2], 0.0f);
        }
        EXPECT_EQ(y[0], 1.0f);
      }
    }
  }
}

TEST(VectorOps, ScalarReferenceIsTheFormula) {
  const std::vector<int8_t> row = {1, -2, 3};
  const std::vector<float> x = {0.5f, 0.25f, 2.0f};
  EXPECT_FLOAT_EQ(VectorOpsFor(Isa::kScalar).dot_i8(row.data(), x.data(), 3), 0.5f - 0.5f + 6.0f);
  // Two keys stored dimension-major (ld 2): key 0 = {1, 3}, key 1 = {-2, 4}.
  const std::vector<int8_t> keys = {1, -2, 3, 4};
  const std::vector<float> scales = {0.5f, 2.0f};
  const std::vector<int8_t> q = {1, 2};
  const float q_scale = 0.125f;
  std::vector<float> scores(2);
  const int8_t* q_ptr = q.data();
  float* score_ptr = scores.data();
  VectorOpsFor(Isa::kScalar)
      .key_scores_q8(keys.data(), 2, scales.data(), 2, 2, &q_ptr, &q_scale, 1, 0.25f, &score_ptr);
  EXPECT_FLOAT_EQ(scores[0], 7.0f * 0.125f * 0.5f * 0.25f);
  EXPECT_FLOAT_EQ(scores[1], 6.0f * 0.125f * 2.0f * 0.25f);
  // Values {1, -2} and {3, 4} in a quad (dimension 0 of the 4 rows, then dimension 1), weights
  // p * scales = {0.5, 1} as levels {128, 255} of 1/255: out += (128 * {1, -2} + 255 * {3, 4}) /
  // 255.
  const std::vector<int8_t> values = {1, 3, 0, 0, -2, 4, 0, 0};
  const std::vector<float> p = {1.0f, 0.5f};
  std::vector<float> out = {10.0f, 20.0f};
  const float* p_ptr = p.data();
  float* out_ptr = out.data();
  VectorOpsFor(Isa::kScalar).value_sum_q8(values.data(), scales.data(), 2, 2, &p_ptr, 1, &out_ptr);
  EXPECT_FLOAT_EQ(out[0], 10.0f + (128.0f + 765.0f) / 255.0f);
  EXPECT_FLOAT_EQ(out[1], 20.0f + (-256.0f + 1020.0f) / 255.0f);
}

}  // namespace
}  // namespace ts::kernels
