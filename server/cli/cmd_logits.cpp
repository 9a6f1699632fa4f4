// `ternserve-cli logits -m MODEL --prompt-ids 1,2,3 -o FILE [--float-activations]`:
// teacher-forced logits of every position (one batch from position 0) written as
// raw float32 [n_tokens, n_vocab]. Used to compare the engine with reference
// implementations (scripts/reference_forward.py).
#include <fstream>

#include "engine/kv/dense_kv_cache.h"
#include "engine/model/forward.h"
#include "engine/model/model.h"
#include "kernels/cpu.h"
#include "server/cli/commands.h"

namespace ts::cli {
namespace {

struct LogitsOptions {
  std::string model;
  std::string prompt_ids;
  std::string output;
  std::string head = "auto";
  bool float_activations = false;
  int threads = 0;
};

int RunLogits(const LogitsOptions& opt) {
  auto model = LoadModel(opt.model, opt.head);
  const auto& c = model->config;
  const std::vector<int32_t> ids = ParseTokenIds(opt.prompt_ids);
  if (ids.empty() || static_cast<int>(ids.size()) > c.n_ctx_train) throw std::runtime_error("need 1..n_ctx token ids");
  kernels::ThreadPool pool(opt.threads > 0 ? opt.threads : kernels::DefaultThreadCount());
  kv::DenseKvCache cache(c.n_layers, c.n_kv_heads, c.head_dim, c.n_heads, 1, static_cast<int>(ids.size()));
  model::ForwardPass pass(c, model->weights, &pool, static_cast<int>(ids.size()), opt.float_activations);
  std::vector<model::BatchToken> batch;
  for (size_t p = 0; p < ids.size(); ++p) batch.push_back({ids[p], static_cast<int32_t>(p), 0, true});
  const auto logits = pass.Run(batch, cache);
  std::ofstream out(opt.output, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size_bytes()));
  if (!out) throw std::runtime_error("cannot write " + opt.output);
  return 0;
}

}  // namespace

CommandFn AddLogitsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Write teacher-forced logits of every position as raw float32");
  auto opt = std::make_shared<LogitsOptions>();
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: built-in model)");
  cmd->add_option("--prompt-ids", opt->prompt_ids, "Token ids, comma-separated")->required();
  cmd->add_option("-o,--output", opt->output, "Output file: float32 [n_tokens, n_vocab]")->required();
  cmd->add_option("--head", opt->head, "Output head storage: auto, f32, f16, q8, q4");
  cmd->add_flag("--float-activations", opt->float_activations, "Skip int8 activation quantization");
  cmd->add_option("-t,--threads", opt->threads, "Threads")->check(CLI::Range(1, 256));
  return [opt] { return RunLogits(*opt); };
}

}  // namespace ts::cli
