// BlockPool: reference counts, free list, prefix cache and LRU eviction order.
#include <gtest/gtest.h>

#include "engine/kv/block_pool.h"

namespace ts::kv {
namespace {

TEST(BlockPool, AllocateUntilDryThenRelease) {
  BlockPool pool(3, 4);
  auto a = pool.Allocate(), b = pool.Allocate(), c = pool.Allocate();
  ASSERT_TRUE(a && b && c);
  EXPECT_FALSE(pool.Allocate());
  EXPECT_EQ(pool.n_used(), 3);
  EXPECT_EQ(pool.n_available(), 0);
  pool.Release(*b);
  EXPECT_EQ(pool.n_available(), 1);
  EXPECT_EQ(pool.Allocate(), b);
  pool.Release(*a);
  pool.Release(*b);
  pool.Release(*c);
  EXPECT_EQ(pool.n_used(), 0);
  EXPECT_THROW(pool.Release(*c), std::logic_error);
}

TEST(BlockPool, SharedPrefixRefcounts) {
  BlockPool pool(4, 2);
  const std::vector<int32_t> t = {5, 6};
  const int b = *pool.Allocate();
  pool.SetHash(b, 0, t);
  // A second sequence finds the block and shares it.
  ASSERT_EQ(pool.FindCached(0, t), b);
  EXPECT_EQ(pool.ref_count(b), 2);
  EXPECT_FALSE(pool.FindCached(0, std::vector<int32_t>{5, 7}));
  EXPECT_FALSE(pool.FindCached(123, t));  // same tokens after another prefix
  pool.Release(b);
  EXPECT_EQ(pool.ref_count(b), 1);
  pool.Release(b);
  // Unreferenced but cached: counts as available and can be revived.
  EXPECT_EQ(pool.n_cached(), 1);
  EXPECT_EQ(pool.n_available(), 4);
  ASSERT_EQ(pool.FindCached(0, t), b);
  EXPECT_EQ(pool.n_cached(), 0);
  EXPECT_EQ(pool.n_used(), 1);
}

TEST(BlockPool, EvictsLeastRecentlyCachedFirst) {
  BlockPool pool(3, 1);
  std::vector<int> blocks;
  for (int32_t k = 0; k < 3; ++k) {
    blocks.push_back(*pool.Allocate());
    pool.SetHash(blocks.back(), 0, std::vector<int32_t>{k});
  }
  pool.Release(blocks[1]);  // cached first -> evicted first
  pool.Release(blocks[0]);
  pool.Release(blocks[2]);
  EXPECT_EQ(pool.Allocate(), blocks[1]);
  EXPECT_FALSE(pool.FindCached(0, std::vector<int32_t>{1}));  // its hash is gone
  EXPECT_EQ(pool.Allocate(), blocks[0]);
  ASSERT_EQ(pool.FindCached(0, std::vector<int32_t>{2}), blocks[2]);  // still cached
}

}  // namespace
}  // namespace ts::kv
