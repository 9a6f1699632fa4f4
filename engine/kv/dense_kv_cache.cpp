#include "engine/kv/dense_kv_cache.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/softmax.h"
#include "kernels/vector_ops.h"

namespace ts::kv {

DenseKvCache::DenseKvCache(int n_layers, int n_kv_heads, int head_dim, int n_heads, int n_slots, int n_ctx)
    : n_layers_(n_layers), n_kv_heads_(n_kv_heads), head_dim_(head_dim), n_heads_(n_heads),
      n_slots_(n_slots), n_ctx_(n_ctx) {
  const size_t n = static_cast<size_t>(n_slots) * n_layers * n_ctx * n_kv_heads * head_dim;
  keys_.assign(n, 0.0f);
  values_.assign(n, 0.0f);
}

size_t DenseKvCache::Offset(int layer, int slot, int pos) const {
  if (slot < 0 || slot >= n_slots_ || pos < 0 || pos >= n_ctx_) {
    throw std::out_of_range("KV position " + std::to_string(pos) + " of slot " + std::to_string(slot) +
                            " outside the cache");
  }
  const size_t kv_dim = static_cast<size_t>(n_kv_heads_) * head_dim_;
  return ((static_cast<size_t>(slot) * n_layers_ + layer) * n_ctx_ + pos) * kv_dim;
}

void DenseKvCache::Write(int layer, int slot, int pos, const float* k, const float* v) {
  const size_t at = Offset(layer, slot, pos);
  const size_t kv_dim = static_cast<size_t>(n_kv_heads_) * head_dim_;
  std::memcpy(keys_.data() + at, k, kv_dim * sizeof(float));
  std::memcpy(values_.data() + at, v, kv_dim * sizeof(float));
}

void DenseKvCache::Attend(int layer, int slot, int n_pos, const float* q, int head_begin, int head_end,
                          float* out, float* scratch) const {
  if (n_pos <= 0) return;
  const size_t base = Offset(layer, slot, 0);
  (void)Offset(layer, slot, n_pos - 1);  // bounds check of the last row
  const int kv_dim = n_kv_heads_ * head_dim_;
  const int group = n_heads_ / n_kv_heads_;
  const float inv_sqrt_d = 1.0f / std::sqrt(static_cast<float>(head_dim_));
  const kernels::VectorOps& ops = kernels::ActiveVectorOps();
  for (int h = head_begin; h < head_end; ++h) {
    const float* qh = q + h * head_dim_;
    const int kvh = h / group;
    const float* k = keys_.data() + base + kvh * head_dim_;
    const float* v = values_.data() + base + kvh * head_dim_;
    for (int p = 0; p < n_pos; ++p) {
      scratch[p] = ops.dot_f32(k + static_cast<size_t>(p) * kv_dim, qh, head_dim_) * inv_sqrt_d;
    }
    kernels::Softmax(scratch, n_pos);
    float* oh = out + h * head_dim_;
    std::memset(oh, 0, sizeof(float) * head_dim_);
    for (int p = 0; p < n_pos; ++p) ops.axpy_f32(v + static_cast<size_t>(p) * kv_dim, scratch[p], oh, head_dim_);
  }
}

}  // namespace ts::kv
