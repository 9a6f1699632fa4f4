// A loaded model: hyper-parameters, weights in engine memory, tokenizer and the
// file's metadata (chat template). Load logs the kernel set, time and memory.
#pragma once

#include <memory>
#include <string>

#include "engine/gguf/gguf.h"
#include "engine/model/config.h"
#include "engine/model/weights.h"
#include "engine/tokenizer/tokenizer.h"

namespace ts::model {

struct LoadOptions {
  std::string path;
  HeadPrecision head = HeadPrecision::kAuto;
};

struct Model {
  gguf::GgufFile file;  // kept for metadata; tensor pages were released after repacking
  ModelConfig config;
  ModelWeights weights;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  double load_seconds = 0;

  // Returns the loaded model; throws std::runtime_error (bad file, missing tensor, ...).
  static std::unique_ptr<Model> Load(const LoadOptions& options);
};

// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
size_t ResidentBytes();

}  // namespace ts::model
