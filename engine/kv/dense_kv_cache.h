// A dense f32 KV cache: one contiguous [n_ctx, kv_dim] array per (slot, layer)
// for keys and for values. The exact reference the compressed caches are
// measured against, and the simplest cache for tools and tests.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/kv/kv_cache.h"

namespace ts::kv {

class DenseKvCache final : public KvCache {
 public:
  DenseKvCache(int n_layers, int n_kv_heads, int head_dim, int n_heads, int n_slots, int n_ctx);

  void Write(int layer, int slot, int pos, const float* k, const float* v) override;
  void Attend(int layer, int slot, int n_pos, const float* q, int head_begin, int head_end, float* out,
              float* scratch) const override;
  int n_slots() const override { return n_slots_; }
  int n_ctx() const override { return n_ctx_; }

 private:
  size_t Offset(int layer, int slot, int pos) const;

  int n_layers_, n_kv_heads_, head_dim_, n_heads_, n_slots_, n_ctx_;
  std::vector<float> keys_;    // [n_slots, n_layers, n_ctx, kv_dim]
  std::vector<float> values_;  // same
};

}  // namespace ts::kv
