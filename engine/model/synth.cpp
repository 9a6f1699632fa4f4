#include "engine/model/synth.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <unordered_set>

#include "engine/gguf/gguf_writer.h"
#include "engine/model/tensor_encode.h"
#include "engine/tokenizer/unicode.h"
#include "kernels/f16.h"

namespace ts::model {
namespace {

struct Shape {
  int d_model, n_layers, n_heads, n_kv_heads, n_ff, n_vocab, n_ctx;
  const char* arch;
};

Shape FindShape(const std::string& name) {
  if (name == "tiny") return {256, 4, 4, 2, 768, 512, 2048, "bitnet-b1.58"};
  // 1bitLLM bitnet_b1_58-large (llama.cpp "bitnet").
  if (name == "0.7b") return {1536, 24, 16, 16, 4096, 32002, 2048, "bitnet"};
  // Microsoft BitNet-b1.58-2B-4T.
  if (name == "2b4t") return {2560, 30, 20, 5, 6912, 128256, 4096, "bitnet-b1.58"};
  throw std::invalid_argument("unknown shape '" + name + "' (tiny, 0.7b, 2b4t)");
}

// xorshift64*: fast and reproducible; weights need no statistical finesse.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  float Normal() {  // Irwin-Hall approximation: sum of 4 uniforms, centred and scaled
    float s = 0;
    for (int k = 0; k < 4; ++k) s += static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f);
    return (s - 2.0f) * 1.7320508f;
  }

 private:
  uint64_t state_;
};

// A valid GPT-2-style vocabulary: the 256 byte tokens, then merges of earlier
// tokens (pairs of letters, then longer pieces), then the special tokens.
struct SynthVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  int32_t bos = 0, eos = 0, eot = -1;
};

SynthVocab MakeVocab(int n_vocab, bool llama3_specials) {
  SynthVocab v;
  const auto& byte_map = tokenizer::ByteToUnicode();
  const int n_special = llama3_specials ? (n_vocab >= 128256 ? 256 : 3) : 1;
  const int n_regular = n_vocab - n_special;
  if (n_regular < 256) throw std::invalid_argument("vocabulary must hold at least 256 + special tokens");
  std::unordered_set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(byte_map[static_cast<size_t>(b)]);
    seen.insert(v.tokens.back());
  }
  // Merge candidates: space-prefixed and plain letter pairs first (they occur in text).
  const std::string space = byte_map[' '];
  std::vector<std::string> base;
  for (char c = 'a'; c <= 'z'; ++c) base.emplace_back(1, c);
  for (char c = 'A'; c <= 'Z'; ++c) base.emplace_back(1, c);
  size_t left = 0, right = 0;
  std::vector<std::string> pieces = base;
  // Grow pieces by appending base letters to existing tokens, breadth first.
  std::vector<std::string> frontier = {space};
  for (const auto& b : base) frontier.push_back(b);
  while (static_cast<int>(v.tokens.size()) < n_regular) {
    if (left >= frontier.size()) throw std::logic_error("synth vocabulary generator ran dry");
    const std::string& a = frontier[left];
    const std::string& b = base[right];
    std::string merged = a + b;
    if (seen.insert(merged).second) {
      v.merges.push_back(a + " " + b);
      v.tokens.push_back(merged);
      frontier.push_back(merged);
    }
    if (++right == base.size()) {
      right = 0;
      ++left;
    }
  }
  v.types.assign(v.tokens.size(), 1);  // NORMAL
  auto add_special = [&](const std::string& text) {
    v.tokens.push_back(text);
    v.types.push_back(3);  // CONTROL
    return static_cast<int32_t>(v.tokens.size() - 1);
  };
  if (llama3_specials) {
    v.bos = add_special("<|begin_of_text|>");
    v.eos = add_special("<|end_of_text|>");
    for (int k = 2; k < n_special; ++k) {
      // Llama 3's layout: 128009 is <|eot_id|>, the header tokens at 128006/128007.
      if (k == 6) add_special("<|start_header_id|>");
      else if (k == 7) add_special("<|end_header_id|>");
      else if (k == 9 || (n_special == 3 && k == 2)) v.eot = add_special("<|eot_id|>");
      else add_special("<|reserved_special_token_" + std::to_string(k) + "|>");
    }
  } else {
    v.bos = v.eos = add_special("<|endoftext|>");
  }
  return v;
}

std::vector<uint8_t> F32Bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

}  // namespace

gguf::TensorType ParseTernaryType(const std::string& name) {
  if (name == "i2_s") return gguf::TensorType::kI2_S;
  if (name == "tq2_0") return gguf::TensorType::kTQ2_0;
  if (name == "tq1_0") return gguf::TensorType::kTQ1_0;
  throw std::invalid_argument("unknown ternary type '" + name + "' (i2_s, tq2_0, tq1_0)");
}

void WriteSynthModel(const SynthOptions& options) {
  Shape s = FindShape(options.shape);
  const std::string arch = options.arch.empty() ? s.arch : options.arch;
  if (arch != "bitnet" && arch != "bitnet-b1.58") throw std::invalid_argument("--arch must be bitnet or bitnet-b1.58");
  if (options.n_vocab > 0) s.n_vocab = options.n_vocab;
  const bool b158 = arch == "bitnet-b1.58";
  const int head_dim = s.d_model / s.n_heads;
  Rng rng(options.seed);

  gguf::GgufWriter w;
  // Metadata in the order of Microsoft's 2B-4T file (formats.md section 1).
  const std::string p = arch + ".";
  w.SetString("general.architecture", arch);
  w.SetString("general.name", "synthetic-" + arch + "-" + options.shape);
  w.SetU32(p + "vocab_size", static_cast<uint32_t>(s.n_vocab));
  w.SetU32(p + "context_length", static_cast<uint32_t>(s.n_ctx));
  w.SetU32(p + "embedding_length", static_cast<uint32_t>(s.d_model));
  w.SetU32(p + "block_count", static_cast<uint32_t>(s.n_layers));
  w.SetU32(p + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.SetU32(p + "rope.dimension_count", static_cast<uint32_t>(head_dim));
  w.SetU32(p + "attention.head_count", static_cast<uint32_t>(s.n_heads));
  w.SetU32(p + "attention.head_count_kv", static_cast<uint32_t>(s.n_kv_heads));
  w.SetF32(p + "attention.layer_norm_rms_epsilon", 1e-5f);
  w.SetF32(p + "rope.freq_base", b158 ? 500000.0f : 10000.0f);
  w.SetU32("general.file_type", 40);
  w.SetU32("general.quantization_version", 2);
  const SynthVocab vocab = MakeVocab(s.n_vocab, b158);
  w.SetString("tokenizer.ggml.model", "gpt2");
  if (!b158) w.SetString("tokenizer.ggml.pre", "gpt-2");  // 2B-4T's file has no pre key
  w.SetStringArray("tokenizer.ggml.tokens", vocab.tokens);
  w.SetF32Array("tokenizer.ggml.scores", std::vector<float>(vocab.tokens.size(), 0.0f));
  w.SetI32Array("tokenizer.ggml.token_type", vocab.types);
  w.SetStringArray("tokenizer.ggml.merges", vocab.merges);
  w.SetU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.bos));
  w.SetU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.eos));
  w.SetU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(vocab.eos));
  w.SetBool("tokenizer.ggml.add_bos_token", b158);
  if (b158) {
    w.SetString("tokenizer.chat_template",
                "{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] }}<|eot_id|>"
                "{% endfor %}{% if add_generation_prompt %}Assistant: {% endif %}");
  }

  // Embedding (F16, tied head): small normal values like a trained model's.
  {
    std::vector<uint16_t> emb(static_cast<size_t>(s.n_vocab) * s.d_model);
    for (auto& e : emb) e = kernels::F32ToF16(rng.Normal() * 0.05f);
    std::vector<uint8_t> bytes(emb.size() * 2);
    std::memcpy(bytes.data(), emb.data(), bytes.size());
    w.AddTensor("token_embd.weight", 1, {static_cast<uint64_t>(s.d_model), static_cast<uint64_t>(s.n_vocab)}, bytes);
  }
  auto norm = [&](int n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = 1.0f + 0.1f * rng.Normal();
    return F32Bytes(v);
  };
  w.AddTensor("output_norm.weight", 0, {static_cast<uint64_t>(s.d_model)}, norm(s.d_model));
  std::vector<int8_t> trits;
  auto ternary = [&](const std::string& name, int n_rows, int n_cols) {
    trits.resize(static_cast<size_t>(n_rows) * n_cols);
    // About a third zeros, like trained BitNet weights; codes from 21 bits of random per trit.
    for (size_t i = 0; i < trits.size();) {
      uint64_t r = rng.Next();
      for (int k = 0; k < 3 && i < trits.size(); ++k, r >>= 21) trits[i++] = static_cast<int8_t>((r & 0x1FFFFF) % 3) - 1;
    }
    // absmean-like scale that keeps activations O(1); rounded to f16 so every type stores it exactly.
    const float scale = kernels::F16ToF32(kernels::F32ToF16(1.5f / std::sqrt(static_cast<float>(n_cols))));
    const auto bytes = EncodeTernary(trits, n_rows, n_cols, scale, options.type);
    w.AddTensor(name, static_cast<uint32_t>(options.type), {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows)},
                bytes);
  };
  const int q_dim = s.d_model, kv_dim = s.n_kv_heads * head_dim;
  for (int i = 0; i < s.n_layers; ++i) {
    const std::string l = "blk." + std::to_string(i) + ".";
    w.AddTensor(l + "attn_norm.weight", 0, {static_cast<uint64_t>(s.d_model)}, norm(s.d_model));
    ternary(l + "attn_q.weight", q_dim, s.d_model);
    ternary(l + "attn_k.weight", kv_dim, s.d_model);
    ternary(l + "attn_v.weight", kv_dim, s.d_model);
    w.AddTensor(l + "attn_sub_norm.weight", 0, {static_cast<uint64_t>(q_dim)}, norm(q_dim));
    ternary(l + "attn_output.weight", s.d_model, q_dim);
    w.AddTensor(l + "ffn_norm.weight", 0, {static_cast<uint64_t>(s.d_model)}, norm(s.d_model));
    ternary(l + "ffn_gate.weight", s.n_ff, s.d_model);
    ternary(l + "ffn_up.weight", s.n_ff, s.d_model);
    w.AddTensor(l + "ffn_sub_norm.weight", 0, {static_cast<uint64_t>(s.n_ff)}, norm(s.n_ff));
    ternary(l + "ffn_down.weight", s.d_model, s.n_ff);
    if (s.n_layers >= 8 && ((i + 1) % 5 == 0 || i + 1 == s.n_layers)) {
      spdlog::info("synth: {}/{} layers generated", i + 1, s.n_layers);
    }
  }
  spdlog::info("synth: writing {}", options.output);
  w.WriteFile(options.output);
}

}  // namespace ts::model
