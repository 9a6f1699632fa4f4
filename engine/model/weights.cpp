#include "engine/model/weights.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>

#include "engine/model/tensor_decode.h"
#include "kernels/f16.h"

namespace ts::model {
namespace {

class Loader {
 public:
  // Ternary codes go to ternary_memory, in the order they are loaded.
  Loader(const gguf::GgufFile& file, const ModelConfig& config,
         kernels::MemoryArena& ternary_memory)
      : file_(file), config_(config), ternary_memory_(ternary_memory) {}

  const gguf::TensorInfo& Require(const std::string& name, std::vector<uint64_t> dims) const {
    const gguf::TensorInfo* t = file_.FindTensor(name);
    if (!t) throw std::runtime_error("model is missing tensor '" + name + "'");
    if (t->dims != dims) {
      throw std::runtime_error("tensor '" + name + "' has shape " + Shape(t->dims) + ", expected " + Shape(dims));
    }
    return *t;
  }

  std::vector<float> Norm(const std::string& name, int n) const {
    const auto& t = Require(name, {static_cast<uint64_t>(n)});
    auto v = DecodeFloat(t, file_.TensorData(t));
    file_.ReleaseTensorPages(t);
    return v;
  }

  kernels::TernaryMatrix Ternary(const std::string& layer_prefix, const std::string& name, int n_rows,
                                 int n_cols) const {
    const std::string full = layer_prefix + name + ".weight";
    const auto& t = Require(full, {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows)});
    bool exact = true;
    DecodedTernary d = DecodeTernary(t, file_.TensorData(t), &exact);
    if (!exact) spdlog::warn("tensor '{}' is not exactly ternary: ternarized with the absmean rule", full);
    float scale = d.scale;
    // llama.cpp's bitnet architecture may carry the weight scale as a separate {1} tensor.
    if (const gguf::TensorInfo* s = file_.FindTensor(layer_prefix + name + ".scale")) {
      if (s->n_elements != 1) throw std::runtime_error("tensor '" + s->name + "' must hold one value");
      scale *= DecodeFloat(*s, file_.TensorData(*s))[0];
    }
    kernels::TernaryMatrix m =
        kernels::PackTernary(d.trits.data(), n_rows, n_cols, scale, &ternary_memory_);
    m.row_scale = std::move(d.row_scale);
    file_.ReleaseTensorPages(t);
    return m;
  }

  kernels::HeadMatrix Head(const std::string& name, HeadPrecision precision) const {
    const auto& t = Require(name, {static_cast<uint64_t>(config_.d_model), static_cast<uint64_t>(config_.n_vocab)});
    const kernels::HeadType target = HeadStorage(precision, t.type(), t.n_elements);
    if (precision == HeadPrecision::kAuto && target == kernels::HeadType::kQ8) {
      spdlog::info(
          "head '{}': {} in the file, stored as q8 (--head f16 keeps the file's precision)", name,
          gguf::TypeName(t.type_id));
    }
    kernels::HeadMatrix head;
    if (t.type() == gguf::TensorType::kF16 && target != kernels::HeadType::kF32) {
      // Keep the shipped f16 bits (or requantize from them), read in place from the mapping
      // (GGUF aligns tensor data to 32 bytes; a copy only for an odd file).
      const auto data = file_.TensorData(t);
      std::vector<uint16_t> copy;
      const auto* bits = reinterpret_cast<const uint16_t*>(data.data());
      if (reinterpret_cast<uintptr_t>(data.data()) % alignof(uint16_t) != 0) {
        copy.resize(t.n_elements);
        std::memcpy(copy.data(), data.data(), copy.size() * 2);
        bits = copy.data();
      }
      head = kernels::HeadFromF16(bits, config_.n_vocab, config_.d_model, target);
    } else {
      const std::vector<float> w = DecodeFloat(t, file_.TensorData(t));
      head = kernels::HeadFromF32(w.data(), config_.n_vocab, config_.d_model, target);
    }
    file_.ReleaseTensorPages(t);
    return head;
  }

 private:
  static std::string Shape(const std::vector<uint64_t>& dims) {
    std::string s = "{";
    for (size_t k = 0; k < dims.size(); ++k) s += (k ? ", " : "") + std::to_string(dims[k]);
    return s + "}";
  }

  const gguf::GgufFile& file_;
  const ModelConfig& config_;
  kernels::MemoryArena& ternary_memory_;
};

}  // namespace

kernels::HeadType HeadStorage(HeadPrecision requested, gguf::TensorType shipped,
                              uint64_t n_weights) {
  switch (requested) {
    case HeadPrecision::kF32:
      return kernels::HeadType::kF32;
    case HeadPrecision::kF16:
      return kernels::HeadType::kF16;
    case HeadPrecision::kQ8:
      return kernels::HeadType::kQ8;
    case HeadPrecision::kQ4:
      return kernels::HeadType::kQ4;
    case HeadPrecision::kAuto:
      break;
  }
  const bool wide = shipped == gguf::TensorType::kF32 || shipped == gguf::TensorType::kBF16;
  // From 32M weights (every released BitNet model: 0.7B 49M, 3B 102M, 2B-4T 328M; none of the
  // small test models) the head is read in full for every generated token: 2B-4T's is 657 MB in
  // F16, more than all its ternary weights. int8 halves that at no measurable quality cost
  // (README, "Output head and speed").
  constexpr uint64_t kQ8FromWeights = uint64_t{1} << 25;
  if ((wide || shipped == gguf::TensorType::kF16) && n_weights >= kQ8FromWeights)
    return kernels::HeadType::kQ8;
  return wide ? kernels::HeadType::kF32 : kernels::HeadType::kF16;
}

HeadPrecision ParseHeadPrecision(const std::string& name) {
  if (name == "auto") return HeadPrecision::kAuto;
  if (name == "f32") return HeadPrecision::kF32;
  if (name == "f16") return HeadPrecision::kF16;
  if (name == "q8") return HeadPrecision::kQ8;
  if (name == "q4") return HeadPrecision::kQ4;
  throw std::invalid_argument("unknown head type '" + name + "' (auto, f32, f16, q8, q4)");
}

size_t ModelWeights::ternary_bytes() const {
  size_t n = 0;
  for (const auto& l : layers) {
    for (const auto* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) n += m->bytes();
  }
  return n;
}

size_t ModelWeights::head_bytes() const { return head().bytes(); }

size_t ModelWeights::total_bytes() const {
  size_t n = ternary_bytes() + token_embd.bytes() + output.bytes() + output_norm.size() * 4;
  for (const auto& l : layers) {
    n += (l.attn_norm.size() + l.attn_sub_norm.size() + l.ffn_norm.size() + l.ffn_sub_norm.size()) * 4;
  }
  return n;
}

ModelWeights LoadWeights(const gguf::GgufFile& file, const ModelConfig& c, HeadPrecision head) {
  ModelWeights w;
  // One run of huge pages for all ternary matrices, in reading order (layers load in forward
  // order): decode then streams the small attention matrices from huge pages too, not each from
  // 4 KB pages of its own (2B-4T, 2 threads, q8 head: 28.0-28.5 -> 28.9-29.3 tok/s).
  w.ternary_memory = std::make_unique<kernels::MemoryArena>();
  Loader load(file, c, *w.ternary_memory);
  w.token_embd = load.Head("token_embd.weight", head);
  if (file.FindTensor("output.weight")) w.output = load.Head("output.weight", head);
  w.output_norm = load.Norm("output_norm.weight", c.d_model);
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    l.attn_norm = load.Norm(p + "attn_norm.weight", c.d_model);
    l.wq = load.Ternary(p, "attn_q", c.q_dim(), c.d_model);
    l.wk = load.Ternary(p, "attn_k", c.kv_dim(), c.d_model);
    l.wv = load.Ternary(p, "attn_v", c.kv_dim(), c.d_model);
    l.attn_sub_norm = load.Norm(p + "attn_sub_norm.weight", c.q_dim());
    l.wo = load.Ternary(p, "attn_output", c.d_model, c.q_dim());
    l.ffn_norm = load.Norm(p + "ffn_norm.weight", c.d_model);
    l.w_gate = load.Ternary(p, "ffn_gate", c.n_ff, c.d_model);
    l.w_up = load.Ternary(p, "ffn_up", c.n_ff, c.d_model);
    l.ffn_sub_norm = load.Norm(p + "ffn_sub_norm.weight", c.n_ff);
    l.w_down = load.Ternary(p, "ffn_down", c.d_model, c.n_ff);
    if (c.n_layers >= 8 && ((i + 1) % 5 == 0 || i + 1 == c.n_layers)) {
      spdlog::info("loading: {}/{} layers repacked", i + 1, c.n_layers);
    }
  }
  return w;
}

}  // namespace ts::model
