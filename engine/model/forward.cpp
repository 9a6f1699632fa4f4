#include "engine/model/forward.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/ternary_gemm.h"

namespace ts::model {

ForwardPass::ForwardPass(const ModelConfig& config, const ModelWeights& weights, kernels::ThreadPool* pool,
                         int max_batch_tokens, bool float_activations)
    : c_(config), w_(weights), pool_(pool), max_batch_tokens_(max_batch_tokens),
      float_activations_(float_activations) {
  const auto t = static_cast<size_t>(max_batch_tokens);
  const size_t widest = static_cast<size_t>(std::max({c_.d_model, c_.q_dim(), c_.n_ff}));
  x_.resize(t * c_.d_model);
  norm_out_.resize(t * widest);
  q_.resize(t * c_.q_dim());
  k_.resize(t * c_.kv_dim());
  v_.resize(t * c_.kv_dim());
  attn_out_.resize(t * c_.q_dim());
  proj_out_.resize(t * c_.d_model);
  ffn_gate_.resize(t * c_.n_ff);
  ffn_up_.resize(t * c_.n_ff);
  ffn_act_.resize(t * c_.n_ff);
  head_in_.resize(t * c_.d_model);
  logits_.resize(t * c_.n_vocab);
}

void ForwardPass::Matmul(const kernels::TernaryMatrix& w, const float* x, int n_tokens, int ld_x, float* y,
                         int ld_y) {
  if (float_activations_) {
    kernels::TernaryGemmF32(w, x, n_tokens, ld_x, y, ld_y, pool_);
    return;
  }
  // Per-token absmax int8 (BitNet b1.58): the matmul sees exactly what training saw.
  kernels::QuantizeActivations(x, n_tokens, w.n_cols, ld_x, &quantized_);
  kernels::TernaryGemm(w, quantized_, y, ld_y, pool_);
}

void ForwardPass::MatmulMany(std::span<const kernels::TernaryGemmOutput> outputs, const float* x,
                             int n_tokens, int ld_x) {
  if (float_activations_) {
    for (const kernels::TernaryGemmOutput& out : outputs) {
      kernels::TernaryGemmF32(*out.w, x, n_tokens, ld_x, out.y, out.ld_y, pool_);
    }
    return;
  }
  kernels::QuantizeActivations(x, n_tokens, outputs[0].w->n_cols, ld_x, &quantized_);
  kernels::TernaryGemmMany(outputs, quantized_, pool_);
}

void ForwardPass::ForEachToken(int n_tokens, const std::function<void(int)>& fn) {
  if (!pool_ || n_tokens < 2) {
    for (int t = 0; t < n_tokens; ++t) fn(t);
    return;
  }
  pool_->Run([&](int thread, int n_threads) {
    auto [begin, end] = kernels::SplitRange(n_tokens, thread, n_threads);
    for (int t = begin; t < end; ++t) fn(t);
  });
}

void ForwardPass::NormRows(const float* x, const float* weight, int n_tokens, int n, float* out) {
  ForEachToken(n_tokens, [&](int t) {
    const size_t at = static_cast<size_t>(t) * n;
    kernels::RmsNorm(x + at, weight, 1, n, n, c_.rms_eps, out + at);
  });
}

std::span<const float> ForwardPass::Run(std::span<const BatchToken> batch, kv::KvCache& kv) {
  const int n_tokens = static_cast<int>(batch.size());
  if (n_tokens == 0) return {};
  if (n_tokens > max_batch_tokens_) throw std::invalid_argument("batch larger than max_batch_tokens");
  const int d = c_.d_model;
  for (int t = 0; t < n_tokens; ++t) {
    const BatchToken& bt = batch[static_cast<size_t>(t)];
    if (bt.token < 0 || bt.token >= c_.n_vocab) {
      throw std::out_of_range("token id " + std::to_string(bt.token) + " outside the vocabulary");
    }
    if (bt.pos < 0 || bt.pos >= kv.n_ctx()) throw std::out_of_range("position outside the KV cache");
    kernels::HeadRow(w_.token_embd, bt.token, x_.data() + static_cast<size_t>(t) * d);
  }

  for (int layer = 0; layer < c_.n_layers; ++layer) Layer(layer, batch, kv);

  // Final norm and the head, only for rows that want logits (prefill needs one per sequence).
  int n_rows = 0;
  for (int t = 0; t < n_tokens; ++t) {
    if (!batch[static_cast<size_t>(t)].want_logits) continue;
    kernels::RmsNorm(x_.data() + static_cast<size_t>(t) * d, w_.output_norm.data(), 1, d, d, c_.rms_eps,
                     head_in_.data() + static_cast<size_t>(n_rows) * d);
    ++n_rows;
  }
  if (n_rows == 0) return {};
  kernels::HeadGemm(w_.head(), head_in_.data(), n_rows, d, logits_.data(), c_.n_vocab, pool_);
  return {logits_.data(), static_cast<size_t>(n_rows) * c_.n_vocab};
}

void ForwardPass::Layer(int layer, std::span<const BatchToken> batch, kv::KvCache& kv) {
  const LayerWeights& lw = w_.layers[static_cast<size_t>(layer)];
  const int n_tokens = static_cast<int>(batch.size());
  const int d = c_.d_model, q_dim = c_.q_dim(), kv_dim = c_.kv_dim(), n_ff = c_.n_ff;

  // Attention block: pre-norm, q/k/v from one quantized input, RoPE, attention over the cache.
  NormRows(x_.data(), lw.attn_norm.data(), n_tokens, d, norm_out_.data());
  const kernels::TernaryGemmOutput qkv[] = {
      {&lw.wq, q_.data(), q_dim}, {&lw.wk, k_.data(), kv_dim}, {&lw.wv, v_.data(), kv_dim}};
  MatmulMany(qkv, norm_out_.data(), n_tokens, d);
  // RoPE and the (quantizing) cache writes touch distinct rows per token: split tokens over threads.
  ForEachToken(n_tokens, [&](int t) {
    const BatchToken& bt = batch[static_cast<size_t>(t)];
    float* qt = q_.data() + static_cast<size_t>(t) * q_dim;
    float* kt = k_.data() + static_cast<size_t>(t) * kv_dim;
    kernels::RopeNeox(qt, c_.n_heads, c_.head_dim, c_.n_rot, bt.pos, c_.rope_freq_base);
    kernels::RopeNeox(kt, c_.n_kv_heads, c_.head_dim, c_.n_rot, bt.pos, c_.rope_freq_base);
    kv.Write(layer, bt.slot, bt.pos, kt, v_.data() + static_cast<size_t>(t) * kv_dim);
  });
  Attention(layer, batch, kv);

  // Sub-norm before the output projection, then the residual add.
  NormRows(attn_out_.data(), lw.attn_sub_norm.data(), n_tokens, q_dim, norm_out_.data());
  Matmul(lw.wo, norm_out_.data(), n_tokens, q_dim, proj_out_.data(), d);
  kernels::Add(x_.data(), proj_out_.data(), n_tokens * d);

  // FFN block: pre-norm, gate/up from one quantized input, act(gate) * up, sub-norm, down.
  NormRows(x_.data(), lw.ffn_norm.data(), n_tokens, d, norm_out_.data());
  const kernels::TernaryGemmOutput gate_up[] = {{&lw.w_gate, ffn_gate_.data(), n_ff},
                                                 {&lw.w_up, ffn_up_.data(), n_ff}};
  MatmulMany(gate_up, norm_out_.data(), n_tokens, d);
  ForEachToken(n_tokens, [&](int t) {
    const size_t at = static_cast<size_t>(t) * n_ff;
    if (c_.ffn_act == FfnActivation::kSquaredRelu) {
      kernels::SquaredReluMul(ffn_gate_.data() + at, ffn_up_.data() + at, ffn_act_.data() + at, n_ff);
    } else {
      kernels::SiluMul(ffn_gate_.data() + at, ffn_up_.data() + at, ffn_act_.data() + at, n_ff);
    }
  });
  NormRows(ffn_act_.data(), lw.ffn_sub_norm.data(), n_tokens, n_ff, norm_out_.data());
  Matmul(lw.w_down, norm_out_.data(), n_tokens, n_ff, proj_out_.data(), d);
  kernels::Add(x_.data(), proj_out_.data(), n_tokens * d);
}

void ForwardPass::Attention(int layer, std::span<const BatchToken> batch, kv::KvCache& kv) {
  const int n_tokens = static_cast<int>(batch.size());
  const int n_threads = pool_ ? pool_->n_threads() : 1;
  const int group = c_.n_heads / c_.n_kv_heads;
  // Runs: consecutive tokens of one sequence (a prompt chunk), up to kMaxRun queries, attend
  // together so each stored K/V row is read once per run instead of once per token.
  constexpr int kMaxRun = 16;
  std::vector<AttentionRun>& runs = runs_;
  runs.clear();
  for (int t = 0; t < n_tokens;) {
    int n = 1;
    while (t + n < n_tokens && n < kMaxRun &&
           batch[static_cast<size_t>(t + n)].slot == batch[static_cast<size_t>(t)].slot &&
           batch[static_cast<size_t>(t + n)].pos == batch[static_cast<size_t>(t)].pos + n) {
      ++n;
    }
    runs.push_back({t, n, static_cast<double>(n) * (batch[static_cast<size_t>(t)].pos + n)});
    t += n;
  }
  const size_t scratch_floats =
      static_cast<size_t>(kMaxRun) * static_cast<size_t>(kv.n_ctx()) * static_cast<size_t>(group);
  if (scores_.size() < static_cast<size_t>(n_threads) * scratch_floats) {
    scores_.resize(static_cast<size_t>(n_threads) * scratch_floats);
  }
  // Work items are (run, head) pairs, so one decoding sequence still uses every core; each
  // thread takes a contiguous range of items holding about 1/n_threads of the weight.
  const int n_items = static_cast<int>(runs.size()) * c_.n_heads;
  double total = 0;
  for (const AttentionRun& r : runs) total += r.weight * c_.n_heads;
  std::vector<int>& bounds = thread_items_;
  bounds.assign(static_cast<size_t>(n_threads) + 1, n_items);
  bounds[0] = 0;
  double seen = 0;
  int thread = 1;
  for (int item = 0; item < n_items && thread < n_threads; ++item) {
    const double w = runs[static_cast<size_t>(item / c_.n_heads)].weight;
    while (thread < n_threads && seen + w / 2 >= total * thread / n_threads)
      bounds[static_cast<size_t>(thread++)] = item;
    seen += w;
  }
  auto work = [&](int thread_index, int) {
    const int begin = bounds[static_cast<size_t>(thread_index)],
              end = bounds[static_cast<size_t>(thread_index) + 1];
    float* scratch = scores_.data() + static_cast<size_t>(thread_index) * scratch_floats;
    for (int item = begin; item < end;) {
      const AttentionRun& run = runs[static_cast<size_t>(item / c_.n_heads)];
      const int head_begin = item % c_.n_heads;
      const int head_end = std::min(c_.n_heads, head_begin + (end - item));
      const BatchToken& bt = batch[static_cast<size_t>(run.first_token)];
      const size_t at = static_cast<size_t>(run.first_token) * c_.q_dim();
      kv.AttendRun(layer, bt.slot, bt.pos, run.n_queries, q_.data() + at, c_.q_dim(), head_begin,
                   head_end, attn_out_.data() + at, scratch);
      item += head_end - head_begin;
    }
  };
  if (pool_) pool_->Run(work);
  else work(0, 1);
}

}  // namespace ts::model
