// BlockPool: the fixed set of KV blocks, their reference counts, the free list
// and the prefix cache. Knows nothing of requests or layers.
//
//   Allocate() --> [used: ref >= 1] --Release() to 0--> hashed? --yes--> [cached: LRU list]
//        ^                ^                                 |                 |
//        |                +----- FindCached(hash) ----------+-----------------+
//        +---- [free list] <----- no hash ------------------+    (evicted LRU-first
//                                                                  by Allocate when
//                                                                  the free list is empty)
//
// A block's hash covers every token from the start of the sequence to the end of
// the block (chained: hash(parent hash, block tokens)), so equal hashes mean equal
// prefixes; lookups also compare the parent hash and the block's tokens.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

namespace ts::kv {

class BlockPool {
 public:
  BlockPool(int n_blocks, int block_size);

  // Returns a block with ref count 1, evicting the least recently cached block if
  // the free list is empty; nullopt when every block is in use. A sequence passes its last
  // block as `after` and gets the next id (else the previous one) when that one is free, or
  // cached as the end of a prefix while nothing is free: attention reads a sequence's blocks
  // in order, and adjacent ones stream from memory ~3x faster than scattered ones. Otherwise
  // the block opens the longest run of free ids.
  std::optional<int> Allocate(int after = -1);
  void Ref(int block);
  // Drops a reference; at zero the block becomes cached (if hashed) or free.
  void Release(int block);

  // Records that `block` (full) holds `tokens` after the prefix whose hash is parent_hash.
  void SetHash(int block, uint64_t parent_hash, std::span<const int32_t> tokens);
  // Returns a block holding exactly `tokens` after `parent_hash` and takes a reference to it.
  std::optional<int> FindCached(uint64_t parent_hash, std::span<const int32_t> tokens);

  static uint64_t ChainHash(uint64_t parent_hash, std::span<const int32_t> tokens);

  int n_blocks() const { return static_cast<int>(ref_.size()); }
  int block_size() const { return block_size_; }
  int n_used() const { return n_used_; }                    // ref count >= 1
  int n_cached() const { return static_cast<int>(lru_.size()); }
  int n_available() const { return n_blocks() - n_used_; }  // free + evictable cached
  int ref_count(int block) const { return ref_[static_cast<size_t>(block)]; }
  bool is_hashed(int block) const { return hashed_[static_cast<size_t>(block)]; }

 private:
  void Unhash(int block);
  // Takes `block` for a growing run if it is free, or cached as a prefix's end while nothing is.
  bool TakeNeighbour(int block);
  int RoomiestFree() const;

  int block_size_;
  int n_used_ = 0;
  std::vector<int> ref_;
  std::vector<bool> hashed_;
  std::vector<uint64_t> hash_;
  std::vector<uint64_t> parent_hash_;
  std::vector<std::vector<int32_t>> tokens_;   // per hashed block, for exact verification
  std::set<int> free_;                         // never-hashed free blocks, by id
  std::list<int> lru_;                         // cached blocks with ref 0, oldest first
  std::vector<std::list<int>::iterator> lru_pos_;
  std::unordered_map<uint64_t, int> by_hash_;
  std::unordered_map<uint64_t, int> children_;  // hashed blocks per parent hash
};

}  // namespace ts::kv
