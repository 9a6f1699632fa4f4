// `ternserve-cli kv-eval [-m MODEL] [-f TEXT | --tokens N] [--json]`: how much each
// KV cache storage type changes the model's next-token distributions, against an
// f32 cache: teacher-forced over N positions in 256-token chunks (so later
// positions attend to stored, quantized K/V), greedy agreement and mean KL.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/kv/paged_kv_cache.h"
#include "engine/model/forward.h"
#include "engine/model/model.h"
#include "engine/sample/sampler.h"
#include "kernels/cpu.h"
#include "server/cli/commands.h"

namespace ts::cli {
namespace {

struct KvEvalOptions {
  std::string model;
  std::string file;
  int n_tokens = 2048;
  std::string types = "f16,q8,q4";
  bool json = false;
  bool float_activations = false;
};

// Logits [n_tokens, n_vocab] of the teacher-forced sequence with a cache of `type`.
std::vector<float> RunWithCache(const model::Model& m, kernels::ThreadPool& pool, const std::vector<int32_t>& tokens,
                                kv::KvType type, bool float_activations) {
  const auto& c = m.config;
  constexpr int kChunk = 256, kBlock = 16;
  const int n = static_cast<int>(tokens.size());
  kv::PagedKvCache cache({c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim}, type, kBlock, (n + kBlock - 1) / kBlock, 1, n);
  cache.Reserve(0, n);
  model::ForwardPass pass(c, m.weights, &pool, kChunk, float_activations);
  std::vector<float> logits;
  logits.reserve(static_cast<size_t>(n) * c.n_vocab);
  std::vector<model::BatchToken> batch;
  for (int begin = 0; begin < n; begin += kChunk) {
    batch.clear();
    for (int p = begin; p < std::min(n, begin + kChunk); ++p) batch.push_back({tokens[static_cast<size_t>(p)], p, 0, true});
    const auto out = pass.Run(batch, cache);
    logits.insert(logits.end(), out.begin(), out.end());
  }
  return logits;
}

int RunKvEval(const KvEvalOptions& opt) {
  auto model = LoadModel(opt.model, "auto");
  const auto& c = model->config;
  std::vector<int32_t> tokens;
  if (!opt.file.empty()) {
    std::ifstream in(opt.file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    tokens = model->tokenizer->Encode(text.str(), false, false);
  } else {
    uint32_t state = 7;  // pseudo-random ids: random models have no text to prefer
    for (int i = 0; i < opt.n_tokens; ++i) {
      state = state * 1664525u + 1013904223u;
      tokens.push_back(static_cast<int32_t>((state >> 8) % static_cast<uint32_t>(c.n_vocab)));
    }
  }
  if (static_cast<int>(tokens.size()) > opt.n_tokens) tokens.resize(static_cast<size_t>(opt.n_tokens));
  // Windows of the model's context (a short-context model is evaluated over many windows).
  const size_t window = static_cast<size_t>(std::min(c.n_ctx_train, 2048));
  std::vector<std::vector<int32_t>> windows;
  for (size_t begin = 0; begin + 1 < tokens.size(); begin += window) {
    windows.emplace_back(tokens.begin() + static_cast<long>(begin),
                         tokens.begin() + static_cast<long>(std::min(tokens.size(), begin + window)));
  }
  kernels::ThreadPool pool(kernels::DefaultThreadCount());
  std::vector<float> reference;
  for (const auto& w : windows) {
    const auto part = RunWithCache(*model, pool, w, kv::KvType::kF32, opt.float_activations);
    reference.insert(reference.end(), part.begin(), part.end());
  }
  const auto n_vocab = static_cast<size_t>(c.n_vocab);
  nlohmann::json results = nlohmann::json::array();
  std::stringstream types(opt.types);
  std::string name;
  while (std::getline(types, name, ',')) {
    const kv::KvType type = kv::ParseKvType(name);
    std::vector<float> logits;
    for (const auto& w : windows) {
      const auto part = RunWithCache(*model, pool, w, type, opt.float_activations);
      logits.insert(logits.end(), part.begin(), part.end());
    }
    double kl_sum = 0;
    size_t agree = 0;
    for (size_t p = 0; p < tokens.size(); ++p) {
      std::span<const float> ref(reference.data() + p * n_vocab, n_vocab), got(logits.data() + p * n_vocab, n_vocab);
      const double lse_ref = sample::LogSumExp(ref), lse_got = sample::LogSumExp(got);
      double kl = 0;
      for (size_t v = 0; v < n_vocab; ++v) {
        const double lp = ref[v] - lse_ref;
        kl += std::exp(lp) * (lp - (got[v] - lse_got));
      }
      kl_sum += kl;
      agree += std::max_element(ref.begin(), ref.end()) - ref.begin() == std::max_element(got.begin(), got.end()) - got.begin();
    }
    const kv::KvShape shape{c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim};
    nlohmann::json r = {{"kv_type", name}, {"positions", tokens.size()},
                        {"greedy_agreement", static_cast<double>(agree) / static_cast<double>(tokens.size())},
                        {"mean_kl", kl_sum / static_cast<double>(tokens.size())},
                        {"bytes_per_token", kv::KvBytesPerToken(shape, type)}};
    if (!opt.json) {
      std::printf("%-4s %6zu positions  greedy agreement %.4f  mean KL %.3e  %zu bytes/token\n", name.c_str(),
                  tokens.size(), r["greedy_agreement"].get<double>(), r["mean_kl"].get<double>(),
                  kv::KvBytesPerToken(shape, type));
    }
    results.push_back(r);
  }
  if (opt.json) std::cout << nlohmann::json{{"model", c.name}, {"results", results}}.dump() << "\n";
  return 0;
}

}  // namespace

CommandFn AddKvEvalCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("kv-eval", "Accuracy of each KV cache storage type against an f32 cache");
  auto opt = std::make_shared<KvEvalOptions>();
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: built-in model)");
  cmd->add_option("-f,--file", opt->file, "Text to teacher-force (default: pseudo-random token ids)")->check(CLI::ExistingFile);
  cmd->add_option("--tokens", opt->n_tokens, "Positions to evaluate (in windows of the model's context, at most 2048)")->check(CLI::Range(2, 1 << 16));
  cmd->add_option("--types", opt->types, "KV types to compare, comma-separated");
  cmd->add_flag("--json", opt->json, "Print one JSON line");
  cmd->add_flag("--float-activations", opt->float_activations,
                "Float activations: isolates the cache's error from int8 rounding flips (random models amplify those)");
  return [opt] { return RunKvEval(*opt); };
}

}  // namespace ts::cli
