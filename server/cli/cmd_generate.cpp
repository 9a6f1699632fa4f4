// `ternserve-cli generate -m MODEL (-p TEXT | --prompt-ids 1,2,3) -n N [--temp T
// --top-p P --top-k K --seed S] [--ignore-eos] [--json]`: streams text to stdout,
// speeds to stderr; --json prints one object on one line instead (a contract:
// {"generated_ids": [...], "text": "...", "steps": [{"id", "logprob", "top"}]}).
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/kv/dense_kv_cache.h"
#include "engine/model/forward.h"
#include "engine/model/model.h"
#include "engine/sample/sampler.h"
#include "kernels/cpu.h"
#include "server/cli/commands.h"

namespace ts::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt;
  std::string prompt_ids;
  int n_predict = 64;
  float temperature = 0.0f;
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  uint64_t seed = 0;
  bool ignore_eos = false;
  bool json = false;
  int threads = 0;
  std::string head = "auto";
  bool float_activations = false;
};

int RunGenerate(const GenerateOptions& opt) {
  auto model = LoadModel(opt.model, opt.head);
  const auto& c = model->config;
  const auto& tok = *model->tokenizer;
  std::vector<int32_t> prompt = opt.prompt_ids.empty() ? tok.Encode(opt.prompt, tok.add_bos_default(), false)
                                                       : ParseTokenIds(opt.prompt_ids);
  if (prompt.empty()) throw std::runtime_error("empty prompt");
  for (int32_t id : prompt) {
    if (id >= c.n_vocab) throw std::runtime_error("prompt token id " + std::to_string(id) + " >= vocabulary size");
  }
  const int n_ctx = std::min<int>(c.n_ctx_train, static_cast<int>(prompt.size()) + opt.n_predict);
  if (static_cast<int>(prompt.size()) >= n_ctx) {
    throw std::runtime_error("prompt of " + std::to_string(prompt.size()) + " tokens leaves no room in the context of " +
                             std::to_string(c.n_ctx_train));
  }
  kernels::ThreadPool pool(opt.threads > 0 ? opt.threads : kernels::DefaultThreadCount());
  kv::DenseKvCache cache(c.n_layers, c.n_kv_heads, c.head_dim, c.n_heads, 1, n_ctx);
  constexpr int kChunk = 256;
  model::ForwardPass pass(c, model->weights, &pool, kChunk, opt.float_activations);

  sample::SamplingParams sp;
  sp.temperature = opt.temperature;
  sp.top_p = opt.top_p;
  sp.top_k = opt.top_k;
  sp.min_p = opt.min_p;
  sp.seed = opt.seed;
  sp.n_top_logprobs = 5;
  sample::Sampler sampler(sp, c.n_vocab);

  const auto t0 = std::chrono::steady_clock::now();
  std::span<const float> logits;
  std::vector<model::BatchToken> batch;
  for (size_t begin = 0; begin < prompt.size(); begin += kChunk) {
    batch.clear();
    const size_t end = std::min(prompt.size(), begin + kChunk);
    for (size_t i = begin; i < end; ++i) {
      batch.push_back({prompt[i], static_cast<int32_t>(i), 0, i + 1 == prompt.size()});
    }
    logits = pass.Run(batch, cache);
  }
  const auto t1 = std::chrono::steady_clock::now();

  tokenizer::IncrementalDetokenizer detok(tok);
  std::vector<int32_t> generated;
  nlohmann::json steps = nlohmann::json::array();
  std::string text;
  int pos = static_cast<int>(prompt.size());
  while (static_cast<int>(generated.size()) < opt.n_predict) {
    const sample::SampledToken s = sampler.Sample(logits, prompt, generated);
    generated.push_back(s.id);
    nlohmann::json top = nlohmann::json::array();
    for (const auto& alt : s.top) top.push_back({alt.id, alt.logprob});
    steps.push_back({{"id", s.id}, {"logprob", s.logprob}, {"top", top}});
    if (!opt.ignore_eos && tok.IsEndOfGeneration(s.id)) break;
    const std::string piece = detok.Push(s.id);
    text += piece;
    if (!opt.json) std::cout << piece << std::flush;
    if (pos >= n_ctx) break;
    const model::BatchToken next{s.id, pos++, 0, true};
    logits = pass.Run({&next, 1}, cache);
  }
  const std::string rest = detok.Flush();
  text += rest;
  const auto t2 = std::chrono::steady_clock::now();

  if (opt.json) {
    nlohmann::json out = {{"generated_ids", generated}, {"text", text}, {"steps", steps}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << rest << "\n";
  }
  const double pp_s = std::chrono::duration<double>(t1 - t0).count();
  const double tg_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "prompt: %zu tokens, %.2f tokens/s | generation: %zu tokens, %.2f tokens/s\n",
               prompt.size(), static_cast<double>(prompt.size()) / pp_s, generated.size(),
               static_cast<double>(generated.size()) / tg_s);
  return 0;
}

}  // namespace

CommandFn AddGenerateCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt");
  auto opt = std::make_shared<GenerateOptions>();
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: built-in model)");
  auto* p = cmd->add_option("-p,--prompt", opt->prompt, "Prompt text");
  auto* ids = cmd->add_option("--prompt-ids", opt->prompt_ids, "Prompt as comma-separated token ids");
  p->excludes(ids);
  cmd->add_option("-n,--n-predict", opt->n_predict, "Tokens to generate")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--temp", opt->temperature, "Temperature (0 = greedy, the default)")->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-p", opt->top_p, "Nucleus sampling mass")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--top-k", opt->top_k, "Sample from the k most likely tokens (0 = off)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-p", opt->min_p, "Drop tokens below min_p x p(best)")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--seed", opt->seed, "Sampling seed");
  cmd->add_flag("--ignore-eos", opt->ignore_eos, "Keep generating past end-of-generation tokens");
  cmd->add_flag("--json", opt->json, "Print one JSON object with ids, text and per-step log-probabilities");
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: physical cores)")->check(CLI::Range(1, 256));
  cmd->add_option("--head", opt->head, "Output head storage: auto, f32, f16, q8, q4");
  cmd->add_flag("--float-activations", opt->float_activations, "Skip int8 activation quantization (debugging)");
  cmd->callback([p, ids] {
    if (p->count() + ids->count() == 0) throw CLI::RequiredError("-p or --prompt-ids");
  });
  return [opt] { return RunGenerate(*opt); };
}

}  // namespace ts::cli
