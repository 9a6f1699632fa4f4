// The BitNet b1.58 forward pass over a batch of tokens from any number of
// sequences (formats.md section 3). Every weight matrix is read once per call
// for all tokens in the batch, which is what makes batched decode pay on a CPU.
// Buffers are allocated once for `max_batch_tokens`; Run allocates nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "engine/kv/kv_cache.h"
#include "engine/model/config.h"
#include "engine/model/weights.h"
#include "kernels/quantize.h"
#include "kernels/ternary_gemm.h"
#include "kernels/thread_pool.h"

namespace ts::model {

struct BatchToken {
  int32_t token = 0;
  int32_t pos = 0;           // position within its sequence
  int32_t slot = 0;          // KV cache slot of its sequence
  bool want_logits = false;  // produce next-token logits for this token
};

class ForwardPass {
 public:
  // float_activations: skip the int8 activation quantization (exact-architecture checks).
  ForwardPass(const ModelConfig& config, const ModelWeights& weights, kernels::ThreadPool* pool,
              int max_batch_tokens, bool float_activations = false);

  // Runs the batch (its tokens' K/V are written to kv at their positions; a token
  // attends to positions [0, pos] of its slot, so earlier positions must be in kv).
  // Returns logits [n_logit_rows, n_vocab] for the tokens with want_logits, in batch order.
  // Requires batch.size() <= max_batch_tokens.
  std::span<const float> Run(std::span<const BatchToken> batch, kv::KvCache& kv);

  int max_batch_tokens() const { return max_batch_tokens_; }

 private:
  void Layer(int layer, std::span<const BatchToken> batch, kv::KvCache& kv);
  void Attention(int layer, std::span<const BatchToken> batch, kv::KvCache& kv);
  // Runs fn(t) for every batch token, split over the pool's threads (prefill's per-token work).
  void ForEachToken(int n_tokens, const std::function<void(int)>& fn);
  // out[t] = rmsnorm(x[t]) * weight for rows of n values (stride n), split over threads.
  void NormRows(const float* x, const float* weight, int n_tokens, int n, float* out);
  // y[T, w.n_rows] = W x[T, w.n_cols] (x quantized per token first).
  void Matmul(const kernels::TernaryMatrix& w, const float* x, int n_tokens, int ld_x, float* y,
              int ld_y);
  // Matmul for several matrices of one input (q/k/v, gate/up): x quantized once, one pool pass.
  void MatmulMany(std::span<const kernels::TernaryGemmOutput> outputs, const float* x, int n_tokens,
                  int ld_x);

  const ModelConfig& c_;
  const ModelWeights& w_;
  kernels::ThreadPool* pool_;
  int max_batch_tokens_;
  bool float_activations_;

  // Activations, one row per batch token.
  std::vector<float> x_;           // [T, d_model] residual stream
  std::vector<float> norm_out_;    // [T, max(d_model, q_dim, n_ff)] normed input of the next matmul
  std::vector<float> q_;           // [T, q_dim]
  std::vector<float> k_;           // [T, kv_dim]
  std::vector<float> v_;           // [T, kv_dim]
  std::vector<float> attn_out_;    // [T, q_dim]
  std::vector<float> proj_out_;    // [T, d_model] output of attn_output / ffn_down
  std::vector<float> ffn_gate_;    // [T, n_ff]
  std::vector<float> ffn_up_;      // [T, n_ff]
  std::vector<float> ffn_act_;     // [T, n_ff] act(gate) * up
  std::vector<float> head_in_;     // [T, d_model] final-normed rows that want logits
  std::vector<float> logits_;      // [T, n_vocab]
  std::vector<float> scores_;      // attention scratch per thread: 16 queries x n_ctx x group
  kernels::QuantizedActivations quantized_;

  // Attention's plan for a step: runs of consecutive tokens of one sequence, and each thread's
  // first (run, head) item.
  struct AttentionRun {
    int first_token, n_queries;
    double weight;  // ~ dot products: queries x positions seen
  };
  std::vector<AttentionRun> runs_;
  std::vector<int> thread_items_;
};

}  // namespace ts::model
