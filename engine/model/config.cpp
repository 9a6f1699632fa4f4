#include "engine/model/config.h"

#include <filesystem>
#include <stdexcept>

namespace ts::model {
namespace {

int RequireInt(const gguf::GgufFile& file, const std::string& key, int min_value) {
  const auto v = file.GetInt(key);
  if (!v) throw std::runtime_error("model metadata is missing '" + key + "'");
  if (*v < min_value || *v > (1 << 24)) {
    throw std::runtime_error("model metadata '" + key + "' = " + std::to_string(*v) + " is out of range");
  }
  return static_cast<int>(*v);
}

}  // namespace

const char* ArchitectureName(Architecture arch) {
  return arch == Architecture::kBitnetB158 ? "bitnet-b1.58" : "bitnet";
}

ModelConfig ReadModelConfig(const gguf::GgufFile& file) {
  ModelConfig c;
  const auto arch = file.GetString("general.architecture");
  if (!arch) throw std::runtime_error("not a model file: 'general.architecture' is missing");
  c.arch_name = *arch;
  if (*arch == "bitnet-b1.58" || *arch == "bitnet-25") {
    c.arch = Architecture::kBitnetB158;
    c.ffn_act = FfnActivation::kSquaredRelu;
  } else if (*arch == "bitnet") {
    c.arch = Architecture::kBitnet;
    c.ffn_act = FfnActivation::kSilu;
  } else {
    throw std::runtime_error("unsupported architecture '" + *arch +
                             "' (supported: bitnet-b1.58, bitnet-25, bitnet)");
  }
  c.name = file.GetString("general.name").value_or(std::filesystem::path(file.path()).stem().string());

  const std::string p = *arch + ".";
  c.d_model = RequireInt(file, p + "embedding_length", 1);
  c.n_layers = RequireInt(file, p + "block_count", 1);
  c.n_heads = RequireInt(file, p + "attention.head_count", 1);
  c.n_kv_heads = file.GetInt(p + "attention.head_count_kv") ? RequireInt(file, p + "attention.head_count_kv", 1)
                                                            : c.n_heads;
  c.n_ff = RequireInt(file, p + "feed_forward_length", 1);
  c.n_ctx_train = file.GetInt(p + "context_length") ? RequireInt(file, p + "context_length", 1) : 2048;
  if (c.d_model % c.n_heads != 0) {
    throw std::runtime_error(p + "embedding_length " + std::to_string(c.d_model) +
                             " is not a multiple of attention.head_count " + std::to_string(c.n_heads));
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    throw std::runtime_error(p + "attention.head_count_kv = " + std::to_string(c.n_kv_heads) +
                             " does not divide attention.head_count " + std::to_string(c.n_heads));
  }
  c.head_dim = c.d_model / c.n_heads;
  c.n_rot = file.GetInt(p + "rope.dimension_count") ? RequireInt(file, p + "rope.dimension_count", 2) : c.head_dim;
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
    throw std::runtime_error(p + "rope.dimension_count " + std::to_string(c.n_rot) +
                             " must be even and <= head dim " + std::to_string(c.head_dim));
  }
  const double default_base = c.arch == Architecture::kBitnetB158 ? 500000.0 : 10000.0;
  c.rope_freq_base = static_cast<float>(file.GetFloat(p + "rope.freq_base").value_or(default_base));
  c.rms_eps = static_cast<float>(file.GetFloat(p + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  if (!(c.rope_freq_base > 1.0f) || !(c.rms_eps > 0.0f && c.rms_eps < 1.0f)) {
    throw std::runtime_error("model metadata: rope.freq_base or layer_norm_rms_epsilon out of range");
  }

  // The vocabulary size comes from the embedding tensor (vocab_size is optional metadata).
  const gguf::TensorInfo* embd = file.FindTensor("token_embd.weight");
  if (!embd) throw std::runtime_error("model is missing tensor 'token_embd.weight'");
  if (embd->dims.size() != 2 || embd->dims[0] != static_cast<uint64_t>(c.d_model)) {
    throw std::runtime_error("tensor 'token_embd.weight' has the wrong shape (expected {" +
                             std::to_string(c.d_model) + ", n_vocab})");
  }
  c.n_vocab = static_cast<int>(embd->dims[1]);
  if (auto v = file.GetInt(p + "vocab_size"); v && *v != c.n_vocab) {
    throw std::runtime_error(p + "vocab_size " + std::to_string(*v) + " disagrees with token_embd.weight's " +
                             std::to_string(c.n_vocab) + " rows");
  }
  return c;
}

}  // namespace ts::model
