// The paged, compressed KV cache: one BlockPool of fixed-size blocks (block_size
// tokens x all layers, K and V, stored as f32/f16/q8/q4) and one block table per
// sequence slot. The forward pass sees only the KvCache interface (slot, pos);
// the scheduler uses the manager half below to admit, grow and free sequences.
//
//   slot's block table      pool storage ([layer][kv head][K|V][block][token] rows: a
//                            block is a run in each (layer, kv head, K|V) region; q8 runs
//                            are laid out for its kernels, see WriteI8)
//   [ 7 | 8 | 9 ]  ------>  block 7: positions 0..bs-1, block 8: bs..2bs-1, block 9: ...
//
// Invariants: a slot's table covers at least every position written; full blocks
// whose tokens are known are hashed into the prefix cache; a block shared by
// several slots (prefix reuse) is full and never written again.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "engine/kv/block_pool.h"
#include "engine/kv/kv_cache.h"
#include "engine/kv/kv_quant.h"

namespace ts::kv {

inline constexpr int kMaxHeadDim = 512;  // attention's per-row buffer lives on the stack

struct KvShape {
  int n_layers = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
};

// Returns the bytes one token costs in the cache (all layers, K and V).
size_t KvBytesPerToken(const KvShape& shape, KvType type);

class PagedKvCache final : public KvCache {
 public:
  PagedKvCache(const KvShape& shape, KvType type, int block_size, int n_blocks, int n_slots, int max_ctx);

  // KvCache (forward pass side).
  void Write(int layer, int slot, int pos, const float* k, const float* v) override;
  void Attend(int layer, int slot, int n_pos, const float* q, int head_begin, int head_end, float* out,
              float* scratch) const override;
  // Reads each stored row once for the whole run (a prompt chunk's queries share its history).
  void AttendRun(int layer, int slot, int first_pos, int n_queries, const float* q, int ld,
                 int head_begin, int head_end, float* out, float* scratch) const override;
  int n_slots() const override { return static_cast<int>(tables_.size()); }
  int n_ctx() const override { return max_ctx_; }

  // Manager side (scheduler). `tokens` is always the sequence's full known token list.
  // Points the empty slot at cached blocks holding the longest block-aligned prefix of
  // tokens[0, n-1) (at least one token is left to compute); returns the tokens covered.
  int AssignCachedPrefix(int slot, std::span<const int32_t> tokens);
  // Grows the slot's table to hold n_tokens positions; false (and nothing taken) if the pool is dry.
  bool Reserve(int slot, int n_tokens);
  // Returns the blocks Reserve(slot, n_tokens) would still need.
  int BlocksNeeded(int slot, int n_tokens) const;
  // Registers the slot's full blocks among tokens[0, n_computed) in the prefix cache.
  void CommitFullBlocks(int slot, std::span<const int32_t> tokens, int n_computed);
  // Drops the slot's blocks (they stay cached if hashed).
  void Release(int slot);

  const BlockPool& pool() const { return pool_; }
  int block_size() const { return block_size_; }
  KvType type() const { return type_; }
  uint64_t prefix_queries() const { return prefix_queries_; }
  uint64_t prefix_hits() const { return prefix_hits_; }

 private:
  uint8_t* Row(int block, int layer, int kv, int offset, int kv_head) const;
  // q8 keeps each block's run of one (layer, kv head, K|V) as block_size f32 scales, then the
  // codes: keys dimension-major (code of dimension d, token j at d * block_size + j), values in
  // quads of 4 tokens, dimension by dimension (kernels::ValueCodeIndex). Same bytes as
  // block_size q8 rows; the int8 attention kernels read it directly.
  void WriteI8(uint8_t* run, int offset, const float* x, bool dimension_major);
  void AttendRunI8(int layer, int slot, int first_pos, int n_queries, const float* q, int ld,
                   int head_begin, int head_end, float* out, float* scratch) const;

  KvShape shape_;
  KvType type_;
  int block_size_;
  int max_ctx_;
  size_t row_bytes_;
  size_t run_bytes_;  // one block's rows of one (layer, kv head, K|V)
  size_t n_blocks_;
  BlockPool pool_;
  struct FreeStorage {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  // [n_blocks, block_bytes] from kernels::AllocateAligned (huge pages); touched on first write.
  std::unique_ptr<uint8_t, FreeStorage> storage_;
  std::vector<std::vector<int>> tables_;     // [n_slots] block ids in position order
  std::vector<std::vector<uint64_t>> hashes_;  // [n_slots] chain hash after each committed block
  uint64_t prefix_queries_ = 0, prefix_hits_ = 0;
};

}  // namespace ts::kv
