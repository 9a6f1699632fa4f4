#include "engine/kv/block_pool.h"

#include <algorithm>
#include <stdexcept>

namespace ts::kv {

BlockPool::BlockPool(int n_blocks, int block_size)
    : block_size_(block_size),
      ref_(static_cast<size_t>(n_blocks), 0),
      hashed_(static_cast<size_t>(n_blocks), false),
      hash_(static_cast<size_t>(n_blocks), 0),
      parent_hash_(static_cast<size_t>(n_blocks), 0),
      tokens_(static_cast<size_t>(n_blocks)),
      lru_pos_(static_cast<size_t>(n_blocks)) {
  if (n_blocks <= 0 || block_size <= 0) throw std::invalid_argument("BlockPool needs blocks");
  for (int b = 0; b < n_blocks; ++b) free_.insert(free_.end(), b);
}

uint64_t BlockPool::ChainHash(uint64_t parent_hash, std::span<const int32_t> tokens) {
  // FNV-1a over the parent hash and the token ids, then a final avalanche (splitmix64).
  uint64_t h = 1469598103934665603ull ^ parent_hash;
  for (int32_t t : tokens) {
    h ^= static_cast<uint32_t>(t);
    h *= 1099511628211ull;
  }
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

std::optional<int> BlockPool::Allocate(int after) {
  // The next id, else the previous one: a run may also grow downwards (attention walks a
  // descending table backwards), which is how blocks come back from the LRU list.
  int block;
  if (after >= 0 && TakeNeighbour(after + 1)) {
    block = after + 1;
  } else if (after >= 0 && TakeNeighbour(after - 1)) {
    block = after - 1;
  } else if (!free_.empty()) {
    block = RoomiestFree();
    free_.erase(block);
  } else if (!lru_.empty()) {
    block = lru_.front();  // evict the least recently cached prefix
    lru_.pop_front();
    Unhash(block);
  } else {
    return std::nullopt;
  }
  ref_[static_cast<size_t>(block)] = 1;
  ++n_used_;
  return block;
}

bool BlockPool::TakeNeighbour(int block) {
  if (block < 0 || block >= n_blocks()) return false;
  if (free_.erase(block) == 1) return true;
  const size_t b = static_cast<size_t>(block);
  // A block is evicted anyway when nothing is free: this cached one instead of the least recent
  // keeps the run. Only the end of a cached prefix, so no other prefix loses the blocks after it.
  if (!free_.empty() || ref_[b] != 0 || children_.count(hash_[b])) return false;
  lru_.erase(lru_pos_[b]);
  Unhash(block);
  return true;
}

int BlockPool::RoomiestFree() const {
  // The longest run of consecutive free ids; when a block in use ends right before it, start
  // halfway in, leaving that block's sequence room to grow too.
  int best_begin = *free_.begin(), best_length = 0;
  for (auto it = free_.begin(); it != free_.end();) {
    const int begin = *it;
    int length = 0;
    while (it != free_.end() && *it == begin + length) {
      ++it;
      ++length;
    }
    if (length > best_length) {
      best_begin = begin;
      best_length = length;
    }
  }
  const bool grows_into = best_begin > 0 && ref_[static_cast<size_t>(best_begin) - 1] > 0;
  return grows_into ? best_begin + best_length / 2 : best_begin;
}

void BlockPool::Ref(int block) {
  int& r = ref_.at(static_cast<size_t>(block));
  if (r == 0) {
    // Reviving a cached block: it leaves the LRU list.
    lru_.erase(lru_pos_[static_cast<size_t>(block)]);
    ++n_used_;
  }
  ++r;
}

void BlockPool::Release(int block) {
  int& r = ref_.at(static_cast<size_t>(block));
  if (r <= 0) throw std::logic_error("KV block released more often than referenced");
  if (--r > 0) return;
  --n_used_;
  if (hashed_[static_cast<size_t>(block)]) {
    lru_pos_[static_cast<size_t>(block)] = lru_.insert(lru_.end(), block);
  } else {
    free_.insert(block);
  }
}

void BlockPool::SetHash(int block, uint64_t parent_hash, std::span<const int32_t> tokens) {
  const size_t b = static_cast<size_t>(block);
  if (hashed_[b]) return;
  const uint64_t h = ChainHash(parent_hash, tokens);
  if (by_hash_.count(h)) return;  // an identical block is already cached; keep that one
  hashed_[b] = true;
  hash_[b] = h;
  parent_hash_[b] = parent_hash;
  tokens_[b].assign(tokens.begin(), tokens.end());
  by_hash_[h] = block;
  ++children_[parent_hash];
}

std::optional<int> BlockPool::FindCached(uint64_t parent_hash, std::span<const int32_t> tokens) {
  auto it = by_hash_.find(ChainHash(parent_hash, tokens));
  if (it == by_hash_.end()) return std::nullopt;
  const int block = it->second;
  const size_t b = static_cast<size_t>(block);
  if (parent_hash_[b] != parent_hash || !std::equal(tokens.begin(), tokens.end(), tokens_[b].begin(), tokens_[b].end())) {
    return std::nullopt;  // a 64-bit collision: treat as a miss
  }
  Ref(block);
  return block;
}

void BlockPool::Unhash(int block) {
  const size_t b = static_cast<size_t>(block);
  if (!hashed_[b]) return;
  by_hash_.erase(hash_[b]);
  const auto parent = children_.find(parent_hash_[b]);
  if (--parent->second == 0) children_.erase(parent);
  hashed_[b] = false;
  tokens_[b].clear();
}

}  // namespace ts::kv
