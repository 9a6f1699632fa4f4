// The model's weights in the engine's own memory: ternary matrices repacked for
// the kernels, norms as f32, the embedding/output head as a HeadMatrix. Loading
// copies everything out of the mmap'd file (and releases those pages), so decode
// never depends on file-backed pages the kernel may evict.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/model/config.h"
#include "kernels/head.h"
#include "kernels/memory_arena.h"
#include "kernels/ternary_gemm.h"

namespace ts::model {

// How the embedding/output head is stored. kAuto stores a large 16/32-bit head (32M+ weights,
// i.e. any real model's) as q8 and otherwise keeps what the file ships (F32 -> f32,
// F16/BF16 -> f16/f32, Q8_0/Q6_K -> f16); the others requantize at load.
enum class HeadPrecision { kAuto, kF32, kF16, kQ8, kQ4 };
HeadPrecision ParseHeadPrecision(const std::string& name);  // "auto", "f32", "f16", "q8", "q4"; throws
// The storage a head shipped as `shipped` with n_weights gets when `requested`.
kernels::HeadType HeadStorage(HeadPrecision requested, gguf::TensorType shipped,
                              uint64_t n_weights);

struct LayerWeights {
  std::vector<float> attn_norm;      // [d_model]
  kernels::TernaryMatrix wq;         // [q_dim, d_model]
  kernels::TernaryMatrix wk;         // [kv_dim, d_model]
  kernels::TernaryMatrix wv;         // [kv_dim, d_model]
  std::vector<float> attn_sub_norm;  // [q_dim]
  kernels::TernaryMatrix wo;         // [d_model, q_dim]
  std::vector<float> ffn_norm;       // [d_model]
  kernels::TernaryMatrix w_gate;     // [n_ff, d_model]
  kernels::TernaryMatrix w_up;       // [n_ff, d_model]
  std::vector<float> ffn_sub_norm;   // [n_ff]
  kernels::TernaryMatrix w_down;     // [d_model, n_ff]
};

struct ModelWeights {
  // Holds every layer's packed ternary codes, in the order a forward pass reads them. Declared
  // first so it is destroyed last: the matrices below borrow its memory.
  std::unique_ptr<kernels::MemoryArena> ternary_memory;
  kernels::HeadMatrix token_embd;    // [n_vocab, d_model]; also the output head when tied
  kernels::HeadMatrix output;        // [n_vocab, d_model]; empty (n_rows == 0) when tied
  std::vector<float> output_norm;    // [d_model]
  std::vector<LayerWeights> layers;  // [n_layers]

  const kernels::HeadMatrix& head() const { return output.n_rows > 0 ? output : token_embd; }
  size_t ternary_bytes() const;      // packed ternary weights read per token
  size_t head_bytes() const;         // head bytes read per token
  size_t total_bytes() const;
};

// Returns the weights of `file`; throws std::runtime_error naming the missing or
// mis-shaped tensor. Logs progress per layer.
ModelWeights LoadWeights(const gguf::GgufFile& file, const ModelConfig& config, HeadPrecision head);

}  // namespace ts::model
