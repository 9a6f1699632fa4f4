// The seam between the forward pass and KV storage: the pass writes each new
// token's keys/values and asks for attention over a sequence's history; how the
// cache stores them (dense f32, paged, compressed) stays behind this interface.
#pragma once

#include <cstddef>

namespace ts::kv {

class KvCache {
 public:
  virtual ~KvCache() = default;

  // Stores token `pos` of sequence `slot` in `layer`. k, v: [kv_dim] (RoPE already applied to k).
  virtual void Write(int layer, int slot, int pos, const float* k, const float* v) = 0;

  // Causal attention of one query token over positions [0, n_pos) of `slot`, for
  // query heads [head_begin, head_end). q: [n_heads, head_dim]; out: [n_heads, head_dim]
  // (only the given heads are written). scratch: >= n_pos * (n_heads / n_kv_heads) floats.
  // GQA: query head h reads kv head h / (n_heads / n_kv_heads).
  virtual void Attend(int layer, int slot, int n_pos, const float* q, int head_begin, int head_end,
                      float* out, float* scratch) const = 0;

  // The same for a run of n_queries consecutive tokens of `slot` (a prompt chunk): query i is
  // at position first_pos + i and attends [0, first_pos + i]. q, out: n_queries rows of
  // `ld` floats ([n_heads, head_dim] each). scratch: >= n_queries * (first_pos + n_queries) *
  // (n_heads / n_kv_heads) floats. A cache may read each stored row once for the whole run;
  // results equal n_queries calls of Attend.
  virtual void AttendRun(int layer, int slot, int first_pos, int n_queries, const float* q, int ld,
                         int head_begin, int head_end, float* out, float* scratch) const {
    for (int i = 0; i < n_queries; ++i) {
      Attend(layer, slot, first_pos + i + 1, q + static_cast<ptrdiff_t>(i) * ld, head_begin,
             head_end, out + static_cast<ptrdiff_t>(i) * ld, scratch);
    }
  }

  virtual int n_slots() const = 0;
  virtual int n_ctx() const = 0;  // positions per slot
};

}  // namespace ts::kv
