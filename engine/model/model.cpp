#include "engine/model/model.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "kernels/cpu.h"

namespace ts::model {

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

std::unique_ptr<Model> Model::Load(const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto file = gguf::GgufFile::Open(options.path);
  auto model = std::unique_ptr<Model>(new Model{std::move(file), {}, {}, nullptr, 0});
  model->config = ReadModelConfig(model->file);
  const ModelConfig& c = model->config;
  spdlog::info("model: {} ({}), {} layers, d_model {}, {} heads / {} kv heads, ffn {}, vocab {}", c.name,
               c.arch_name, c.n_layers, c.d_model, c.n_heads, c.n_kv_heads, c.n_ff, c.n_vocab);
  spdlog::info("kernels: {}", kernels::IsaName(kernels::ActiveIsa()));
  model->tokenizer = tokenizer::Tokenizer::FromGguf(model->file);
  if (model->tokenizer->n_vocab() > c.n_vocab) {
    throw std::runtime_error("tokenizer has " + std::to_string(model->tokenizer->n_vocab()) +
                             " tokens but token_embd.weight only " + std::to_string(c.n_vocab) + " rows");
  }
  model->weights = LoadWeights(model->file, c, options.head);
  model->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("loaded in {:.2f} s: ternary weights {:.1f} MB, head {} {:.1f} MB, resident memory {:.1f} MB",
               model->load_seconds, static_cast<double>(model->weights.ternary_bytes()) / 1e6,
               kernels::HeadTypeName(model->weights.head().type),
               static_cast<double>(model->weights.head_bytes()) / 1e6, static_cast<double>(ResidentBytes()) / 1e6);
  return model;
}

}  // namespace ts::model
