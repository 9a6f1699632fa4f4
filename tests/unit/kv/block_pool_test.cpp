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

TEST(BlockPool, SequencesGrowIntoAdjacentBlocks) {
  BlockPool pool(16, 1);
  // Two sequences growing in turn each keep consecutive ids: the second starts halfway into
  // the free run that follows the first one's block.
  std::vector<int> a = {*pool.Allocate()}, b = {*pool.Allocate()};
  EXPECT_EQ(a[0], 0);
  EXPECT_EQ(b[0], 8);
  for (int k = 0; k < 3; ++k) {
    a.push_back(*pool.Allocate(a.back()));
    b.push_back(*pool.Allocate(b.back()));
  }
  EXPECT_EQ(a, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(b, (std::vector<int>{8, 9, 10, 11}));
  // The next id taken, the previous one is the run's (a descending run is walked backwards).
  EXPECT_EQ(pool.Allocate(8), 7);
  // Both taken: halfway into the longest free run (12..15, which b's block 11 may grow into).
  EXPECT_EQ(pool.Allocate(10), 14);
}

TEST(BlockPool, NextBlockEvictedWhenNothingIsFree) {
  BlockPool pool(4, 1);
  std::vector<int> blocks;
  for (int32_t k = 0; k < 4; ++k) {
    blocks.push_back(*pool.Allocate(blocks.empty() ? -1 : blocks.back()));
    pool.SetHash(blocks.back(), 0, std::vector<int32_t>{k});
  }
  ASSERT_EQ(blocks, (std::vector<int>{0, 1, 2, 3}));
  pool.Release(2);  // least recently cached
  pool.Release(1);
  // Nothing is free, so a block is evicted either way: block 1 continues block 0's run.
  EXPECT_EQ(pool.Allocate(0), 1);
  EXPECT_FALSE(pool.FindCached(0, std::vector<int32_t>{1}));
  // Without a run to continue, the LRU order holds.
  EXPECT_EQ(pool.Allocate(), 2);
  EXPECT_FALSE(pool.Allocate(3));
}

TEST(BlockPool, NextBlockInsideACachedPrefixIsNotEvicted) {
  BlockPool pool(3, 1);
  // Blocks 1 and 2 cache one prefix (2 continues 1); block 0 belongs to a growing sequence.
  const int own = *pool.Allocate();
  const int head = *pool.Allocate(own), tail = *pool.Allocate(head);
  ASSERT_EQ(std::vector<int>({own, head, tail}), std::vector<int>({0, 1, 2}));
  const std::vector<int32_t> first = {4}, second = {5};
  pool.SetHash(head, 0, first);
  pool.SetHash(tail, BlockPool::ChainHash(0, first), second);
  pool.Release(tail);  // least recently cached
  pool.Release(head);
  // Evicting block 1 would strand block 2 (lookups walk a prefix from its start): the least
  // recently cached block, the prefix's end, goes instead.
  EXPECT_EQ(pool.Allocate(own), tail);
  EXPECT_EQ(pool.FindCached(0, first), head);
}

TEST(BlockPool, CachedNextBlockKeptWhileFreeBlocksRemain) {
  BlockPool pool(4, 1);
  const int first = *pool.Allocate(), second = *pool.Allocate(first);
  ASSERT_EQ(second, 1);
  pool.SetHash(second, 0, std::vector<int32_t>{9});
  pool.Release(second);
  // Block 1 holds a cached prefix and blocks 2 and 3 are free: the prefix stays.
  const int grown = *pool.Allocate(first);
  EXPECT_NE(grown, second);
  EXPECT_EQ(pool.FindCached(0, std::vector<int32_t>{9}), second);
}

}  // namespace
}  // namespace ts::kv
