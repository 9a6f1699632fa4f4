// `ternserve-cli perplexity [-m MODEL] -f TEXTFILE [--ctx N]`: the text is
// tokenized without BOS and cut into consecutive windows of N tokens (default:
// the model's context length; a last partial window counts if it has >= 2
// tokens). In each window every token but the first is predicted from those
// before it. Last line: `perplexity: <number>` = exp(mean NLL).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/kv/dense_kv_cache.h"
#include "engine/model/forward.h"
#include "engine/model/model.h"
#include "engine/sample/sampler.h"
#include "kernels/cpu.h"
#include "server/cli/commands.h"

namespace ts::cli {
namespace {

struct PerplexityOptions {
  std::string model;
  std::string file;
  int n_ctx = 0;
  int threads = 0;
  std::string head = "auto";
};

int RunPerplexity(const PerplexityOptions& opt) {
  auto model = LoadModel(opt.model, opt.head);
  const auto& c = model->config;
  std::ifstream in(opt.file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + opt.file);
  std::ostringstream text;
  text << in.rdbuf();
  const std::vector<int32_t> tokens = model->tokenizer->Encode(text.str(), false, false);
  const int n_ctx = opt.n_ctx > 0 ? opt.n_ctx : c.n_ctx_train;
  if (tokens.size() < 2) throw std::runtime_error("text too short: need at least 2 tokens");

  kernels::ThreadPool pool(opt.threads > 0 ? opt.threads : kernels::DefaultThreadCount());
  kv::DenseKvCache cache(c.n_layers, c.n_kv_heads, c.head_dim, c.n_heads, 1, n_ctx);
  model::ForwardPass pass(c, model->weights, &pool, n_ctx);
  double nll = 0.0;
  size_t n_scored = 0;
  const size_t n_windows = (tokens.size() + static_cast<size_t>(n_ctx) - 1) / static_cast<size_t>(n_ctx);
  std::vector<model::BatchToken> batch;
  for (size_t w = 0; w < n_windows; ++w) {
    const size_t begin = w * static_cast<size_t>(n_ctx);
    const size_t end = std::min(tokens.size(), begin + static_cast<size_t>(n_ctx));
    if (end - begin < 2) break;
    batch.clear();
    for (size_t i = begin; i < end; ++i) {
      batch.push_back({tokens[i], static_cast<int32_t>(i - begin), 0, i + 1 < end});
    }
    const auto logits = pass.Run(batch, cache);
    for (size_t i = begin; i + 1 < end; ++i) {
      std::span<const float> row = logits.subspan((i - begin) * static_cast<size_t>(c.n_vocab), static_cast<size_t>(c.n_vocab));
      nll += sample::LogSumExp(row) - row[static_cast<size_t>(tokens[i + 1])];
      ++n_scored;
    }
    std::fprintf(stderr, "[%zu/%zu] windows, running perplexity %.4f\n", w + 1, n_windows,
                 std::exp(nll / static_cast<double>(n_scored)));
  }
  std::printf("tokens: %zu, scored: %zu, window: %d\n", tokens.size(), n_scored, n_ctx);
  std::printf("perplexity: %.4f\n", std::exp(nll / static_cast<double>(n_scored)));
  return 0;
}

}  // namespace

CommandFn AddPerplexityCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a model on a text file");
  auto opt = std::make_shared<PerplexityOptions>();
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: built-in model)");
  cmd->add_option("-f,--file", opt->file, "Text file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--ctx", opt->n_ctx, "Window length in tokens (default: the model's context length)")
      ->check(CLI::Range(2, 1 << 16));
  cmd->add_option("-t,--threads", opt->threads, "Threads")->check(CLI::Range(1, 256));
  cmd->add_option("--head", opt->head, "Output head storage: auto, f32, f16, q8, q4");
  return [opt] { return RunPerplexity(*opt); };
}

}  // namespace ts::cli
