// Paged KV cache: quantization error bounds per type, attention over paged blocks
// against the dense f32 cache, and block accounting with prefix reuse.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/kv/dense_kv_cache.h"
#include "engine/kv/paged_kv_cache.h"

namespace ts::kv {
namespace {

std::vector<float> RandomVector(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST(KvQuant, RowErrorBoundsPerType) {
  std::mt19937 rng(1);
  constexpr int kHeadDim = 128;
  // Max error relative to the row's absmax: half a quantization step (plus f16 rounding of scales).
  const std::vector<std::pair<KvType, float>> bounds = {
      {KvType::kF32, 0.0f}, {KvType::kF16, 1e-3f}, {KvType::kQ8, 0.5f / 127 + 1e-6f}, {KvType::kQ4, 1.0f / 15 + 2e-3f}};  // half a step of (max - min) / 15, f16 min
  for (const auto& [type, bound] : bounds) {
    std::vector<uint8_t> row(KvRowBytes(type, kHeadDim));
    for (int trial = 0; trial < 50; ++trial) {
      auto x = RandomVector(kHeadDim, rng, trial % 2 ? 10.0f : 0.1f);
      if (trial == 0) std::fill(x.begin(), x.end(), 0.0f);
      KvStoreRow(type, x.data(), kHeadDim, row.data());
      std::vector<float> y(kHeadDim);
      KvLoadRow(type, row.data(), kHeadDim, y.data());
      float absmax = 0, err = 0;
      for (int i = 0; i < kHeadDim; ++i) {
        absmax = std::max(absmax, std::fabs(x[i]));
        err = std::max(err, std::fabs(x[i] - y[i]));
      }
      EXPECT_LE(err, bound * absmax) << KvTypeName(type) << " trial " << trial;
      // Dot product inside the format equals dot product of the dequantized row.
      const auto q = RandomVector(kHeadDim, rng);
      double want = 0;
      for (int i = 0; i < kHeadDim; ++i) want += static_cast<double>(q[i]) * y[i];
      EXPECT_NEAR(KvDotRow(type, row.data(), q.data(), kHeadDim), want, 1e-3 * (1 + std::fabs(want)));
    }
  }
  EXPECT_EQ(KvRowBytes(KvType::kQ8, 128), 132u);
  EXPECT_EQ(KvRowBytes(KvType::kQ4, 128), 96u);
}

TEST(PagedKvCache, AttentionMatchesDenseCache) {
  const KvShape shape{2, 4, 2, 64};
  constexpr int kPositions = 45;  // crosses blocks, ends mid-block
  std::mt19937 rng(7);
  for (KvType type : {KvType::kF32, KvType::kF16, KvType::kQ8, KvType::kQ4}) {
    PagedKvCache paged(shape, type, 16, 8, 2, 64);
    DenseKvCache dense(shape.n_layers, shape.n_kv_heads, shape.head_dim, shape.n_heads, 1, 64);
    ASSERT_TRUE(paged.Reserve(1, kPositions));
    const int kv_dim = shape.n_kv_heads * shape.head_dim;
    for (int layer = 0; layer < shape.n_layers; ++layer) {
      for (int p = 0; p < kPositions; ++p) {
        const auto k = RandomVector(static_cast<size_t>(kv_dim), rng), v = RandomVector(static_cast<size_t>(kv_dim), rng);
        paged.Write(layer, 1, p, k.data(), v.data());
        dense.Write(layer, 0, p, k.data(), v.data());
      }
    }
    const auto q = RandomVector(static_cast<size_t>(shape.n_heads * shape.head_dim), rng);
    std::vector<float> out_paged(q.size()), out_dense(q.size()), scratch(64 * 2);
    paged.Attend(1, 1, kPositions, q.data(), 0, shape.n_heads, out_paged.data(), scratch.data());
    dense.Attend(1, 0, kPositions, q.data(), 0, shape.n_heads, out_dense.data(), scratch.data());
    const float tolerance = type == KvType::kF32 ? 1e-5f : type == KvType::kF16 ? 2e-3f : type == KvType::kQ8 ? 3e-2f : 0.25f;
    for (size_t i = 0; i < q.size(); ++i) {
      ASSERT_NEAR(out_paged[i], out_dense[i], tolerance) << KvTypeName(type) << " element " << i;
    }
    // A head range that cuts through a GQA group (threads split work by head) gives the same heads.
    std::vector<float> out_part(q.size(), -7.0f);
    paged.Attend(1, 1, kPositions, q.data(), 1, 3, out_part.data(), scratch.data());
    for (int i = 0; i < shape.n_heads * shape.head_dim; ++i) {
      const bool in_range = i >= shape.head_dim && i < 3 * shape.head_dim;
      ASSERT_EQ(out_part[static_cast<size_t>(i)], in_range ? out_paged[static_cast<size_t>(i)] : -7.0f) << i;
    }
  }
}

TEST(PagedKvCache, DescendingBlocksFromTheCacheAttendLikeDense) {
  // Blocks come back from the LRU list last-first, so a sequence filling a pool of cached blocks
  // gets descending ids (2, 1, 0 here) and attention walks its table backwards.
  const KvShape shape{1, 4, 2, 64};
  constexpr int kPositions = 45;
  std::mt19937 rng(9);
  PagedKvCache paged(shape, KvType::kQ8, 16, 3, 2, 48);
  std::vector<int32_t> tokens(48);
  for (int32_t t = 0; t < 48; ++t) tokens[static_cast<size_t>(t)] = t;
  ASSERT_TRUE(paged.Reserve(0, 48));
  paged.CommitFullBlocks(0, tokens, 48);
  paged.Release(0);
  ASSERT_EQ(paged.pool().n_cached(), 3);
  ASSERT_TRUE(paged.Reserve(1, kPositions));
  EXPECT_EQ(paged.pool().n_cached(), 0);
  DenseKvCache dense(shape.n_layers, shape.n_kv_heads, shape.head_dim, shape.n_heads, 1, 48);
  const int kv_dim = shape.n_kv_heads * shape.head_dim;
  for (int p = 0; p < kPositions; ++p) {
    const auto k = RandomVector(static_cast<size_t>(kv_dim), rng);
    const auto v = RandomVector(static_cast<size_t>(kv_dim), rng);
    paged.Write(0, 1, p, k.data(), v.data());
    dense.Write(0, 0, p, k.data(), v.data());
  }
  const auto q = RandomVector(static_cast<size_t>(shape.n_heads * shape.head_dim), rng);
  std::vector<float> out_paged(q.size()), out_dense(q.size()), scratch(48 * 2);
  paged.Attend(0, 1, kPositions, q.data(), 0, shape.n_heads, out_paged.data(), scratch.data());
  dense.Attend(0, 0, kPositions, q.data(), 0, shape.n_heads, out_dense.data(), scratch.data());
  for (size_t i = 0; i < q.size(); ++i) ASSERT_NEAR(out_paged[i], out_dense[i], 3e-2f) << i;
}

TEST(PagedKvCache, ARunOfQueriesEqualsOneQueryAtATime) {
  // A prompt chunk's queries attend together (each row read once); every query must get exactly
  // what it gets alone: the same causal window, the same sums in the same order.
  const KvShape shape{1, 4, 2, 32};
  constexpr int kFirst = 21, kQueries = 13;  // the run starts mid-block and crosses two blocks
  std::mt19937 rng(11);
  for (KvType type : {KvType::kF32, KvType::kQ8}) {
    PagedKvCache kv(shape, type, 16, 4, 1, 64);
    ASSERT_TRUE(kv.Reserve(0, kFirst + kQueries));
    const int kv_dim = shape.n_kv_heads * shape.head_dim, q_dim = shape.n_heads * shape.head_dim;
    for (int p = 0; p < kFirst + kQueries; ++p) {
      const auto k = RandomVector(static_cast<size_t>(kv_dim), rng),
                 v = RandomVector(static_cast<size_t>(kv_dim), rng);
      kv.Write(0, 0, p, k.data(), v.data());
    }
    const int ld =
        q_dim + 8;  // rows of the forward pass's buffers may be wider than one token's heads
    const auto q = RandomVector(static_cast<size_t>(kQueries * ld), rng);
    std::vector<float> run_out(q.size(), -5.0f),
        scratch(static_cast<size_t>(kQueries * (kFirst + kQueries) * 2));
    kv.AttendRun(0, 0, kFirst, kQueries, q.data(), ld, 1, 4, run_out.data(), scratch.data());
    for (int i = 0; i < kQueries; ++i) {
      std::vector<float> one(static_cast<size_t>(q_dim), -5.0f);
      kv.Attend(0, 0, kFirst + i + 1, q.data() + static_cast<size_t>(i) * ld, 1, 4, one.data(),
                scratch.data());
      for (int e = 0; e < q_dim; ++e) {
        ASSERT_EQ(run_out[static_cast<size_t>(i * ld + e)], one[static_cast<size_t>(e)])
            << KvTypeName(type) << " query " << i << " element " << e;
      }
      EXPECT_EQ(run_out[static_cast<size_t>(i * ld + q_dim)], -5.0f);  // the padding is not written
    }
  }
}

TEST(PagedKvCache, PrefixReuseAndAccountingNeverLeak) {
  const KvShape shape{1, 2, 1, 32};
  PagedKvCache kv(shape, KvType::kQ8, 4, 6, 3, 64);
  std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  // Sequence A computes 10 tokens (2 full blocks + 2), commits its full blocks.
  EXPECT_EQ(kv.AssignCachedPrefix(0, prompt), 0);
  ASSERT_TRUE(kv.Reserve(0, 10));
  EXPECT_EQ(kv.pool().n_used(), 3);
  kv.CommitFullBlocks(0, prompt, 10);
  // Sequence B with the same first 9 tokens reuses both full blocks.
  std::vector<int32_t> other = {1, 2, 3, 4, 5, 6, 7, 8, 42};
  EXPECT_EQ(kv.AssignCachedPrefix(1, other), 8);
  EXPECT_EQ(kv.pool().n_used(), 3);
  EXPECT_EQ(kv.pool().ref_count(0), 2);
  ASSERT_TRUE(kv.Reserve(1, 9));
  EXPECT_EQ(kv.pool().n_used(), 4);
  // A prompt of exactly one block reuses nothing: its last token must be computed.
  EXPECT_EQ(kv.AssignCachedPrefix(2, std::vector<int32_t>{1, 2, 3, 4}), 0);
  // The pool runs dry: Reserve takes nothing and says so.
  EXPECT_FALSE(kv.Reserve(2, 64));
  EXPECT_FALSE(kv.Reserve(2, 13));
  EXPECT_EQ(kv.pool().n_used(), 4);
  kv.Release(0);
  kv.Release(1);
  kv.Release(2);
  EXPECT_EQ(kv.pool().n_used(), 0);
  EXPECT_EQ(kv.pool().n_cached(), 2);  // the shared prefix stays cached
  EXPECT_EQ(kv.pool().n_available(), 6);
  EXPECT_EQ(kv.prefix_hits(), 2u);
}

TEST(PagedKvCache, Q8NeedsBlocksOfWholeValueQuads) {
  const KvShape shape{1, 2, 1, 16};
  EXPECT_THROW(PagedKvCache(shape, KvType::kQ8, 6, 4, 1, 24), std::invalid_argument);
  EXPECT_NO_THROW(PagedKvCache(shape, KvType::kF32, 6, 4, 1, 24));
  EXPECT_NO_THROW(PagedKvCache(shape, KvType::kQ8, 8, 4, 1, 32));
}

TEST(PagedKvCache, BytesPerTokenFor2B4T) {
  const KvShape shape{30, 20, 5, 128};
  EXPECT_EQ(KvBytesPerToken(shape, KvType::kF16), 76800u);
  EXPECT_EQ(KvBytesPerToken(shape, KvType::kQ8), 30u * 2 * 5 * 132);  // 39,600
  EXPECT_EQ(KvBytesPerToken(shape, KvType::kQ4), 30u * 2 * 5 * 96);   // 28,800
}

}  // namespace
}  // namespace ts::kv
