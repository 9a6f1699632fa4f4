#include "kernels/memory_arena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/ternary_gemm.h"

namespace ts::kernels {
namespace {

uintptr_t Address(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

TEST(MemoryArena, HandsOutAlignedAdjacentPiecesAndNewBlocksWhenFull) {
  MemoryArena arena(4096);
  auto* a = static_cast<char*>(arena.Take(100));
  auto* b = static_cast<char*>(arena.Take(1000));
  EXPECT_EQ(Address(a) % kBufferAlignBytes, 0u);
  EXPECT_EQ(b, a + 128);  // 100 rounded up to 64 bytes
  EXPECT_EQ(arena.bytes_taken(), 128u + 1024u);
  // 2944 bytes are left in the block: 3000 opens a new one.
  auto* c = static_cast<char*>(arena.Take(3000));
  EXPECT_EQ(Address(c) % kBufferAlignBytes, 0u);
  EXPECT_TRUE(c + 3000 <= a || c >= a + 4096);
  // Larger than a block: a block of its own, all of it usable.
  auto* big = static_cast<char*>(arena.Take(10000));
  for (int i = 0; i < 10000; ++i) big[i] = static_cast<char>(i);
  EXPECT_EQ(big[9999], static_cast<char>(9999));
}

TEST(MemoryArena, BorrowedBuffersAreZeroedMoveAndNeverFreeArenaMemory) {
  MemoryArena arena(1 << 16);
  AlignedBuffer<int32_t> buf(3);  // owned memory, freed when it borrows
  ResizeInArena(buf, 1000, arena);
  ASSERT_EQ(buf.size(), 1000u);
  for (size_t i = 0; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0) << i;
  buf[999] = 7;
  const int32_t* memory = buf.data();
  AlignedBuffer<int32_t> moved = std::move(buf);
  EXPECT_EQ(moved.data(), memory);
  EXPECT_EQ(moved[999], 7);
  // Growing past the borrowed memory switches to memory of its own (the arena's stays put).
  moved.Resize(2000);
  EXPECT_NE(moved.data(), memory);
  // Destroying a borrowed buffer frees nothing (ASan reports a free of arena memory).
  {
    AlignedBuffer<int32_t> another;
    ResizeInArena(another, 10, arena);
  }
}

TEST(MemoryArena, PackedTernaryInArenaEqualsOwnMemory) {
  const int n_rows = 37, n_cols = 300;
  std::vector<int8_t> trits(static_cast<size_t>(n_rows) * n_cols);
  for (size_t i = 0; i < trits.size(); ++i)
    trits[i] = static_cast<int8_t>(static_cast<int>(i * 7 % 3) - 1);
  MemoryArena arena;
  const TernaryMatrix own = PackTernary(trits.data(), n_rows, n_cols, 0.5f);
  const TernaryMatrix borrowed = PackTernary(trits.data(), n_rows, n_cols, 0.5f, &arena);
  ASSERT_EQ(borrowed.packed.size(), own.packed.size());
  EXPECT_EQ(arena.bytes_taken(), (own.packed.size() + 63) / 64 * 64);
  for (size_t i = 0; i < own.packed.size(); ++i) ASSERT_EQ(borrowed.packed[i], own.packed[i]) << i;
  // An empty matrix takes nothing from the arena.
  const TernaryMatrix empty = PackTernary(trits.data(), 0, n_cols, 0.5f, &arena);
  EXPECT_TRUE(empty.packed.empty());
  EXPECT_EQ(arena.bytes_taken(), (own.packed.size() + 63) / 64 * 64);
}

}  // namespace
}  // namespace ts::kernels
