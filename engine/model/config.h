// Model hyper-parameters read from GGUF metadata. Nothing shape-related is
// hard-coded: every dimension comes from `<arch>.*` keys or tensor shapes.
#pragma once

#include <string>

#include "engine/gguf/gguf.h"

namespace ts::model {

enum class Architecture {
  kBitnetB158,  // Microsoft BitNet-b1.58-2B-4T ("bitnet-b1.58", "bitnet-25"): squared-ReLU FFN
  kBitnet,      // llama.cpp "bitnet" (1bitLLM): SiLU FFN, optional per-tensor scale tensors
};

enum class FfnActivation { kSquaredRelu, kSilu };

struct ModelConfig {
  Architecture arch = Architecture::kBitnetB158;
  std::string arch_name;     // as written in general.architecture
  std::string name;          // general.name, or the file stem
  int n_vocab = 0;
  int d_model = 0;           // embedding_length
  int n_layers = 0;          // block_count
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;          // d_model / n_heads
  int n_ff = 0;              // feed_forward_length
  int n_rot = 0;             // rope.dimension_count (<= head_dim)
  int n_ctx_train = 0;       // context_length
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  FfnActivation ffn_act = FfnActivation::kSquaredRelu;

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
};

// Returns the config of `file`; throws std::runtime_error naming the missing or
// inconsistent key (e.g. "bitnet.attention.head_count_kv = 3 does not divide head_count 4").
ModelConfig ReadModelConfig(const gguf::GgufFile& file);

const char* ArchitectureName(Architecture arch);

}  // namespace ts::model
