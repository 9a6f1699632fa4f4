// Synthetic ternary models: random weights of exactly a real model's shape and
// file layout, with a valid (generated) byte-level BPE vocabulary, for tests and
// benchmarks (no real weights can be downloaded here).
#pragma once

#include <cstdint>
#include <string>

#include "engine/gguf/tensor_types.h"
#include "engine/model/config.h"

namespace ts::model {

struct SynthOptions {
  std::string shape = "tiny";  // tiny | 0.7b | 2b4t
  std::string arch;            // bitnet | bitnet-b1.58; empty = the shape's own
  gguf::TensorType type = gguf::TensorType::kI2_S;
  int n_vocab = 0;             // 0 = the shape's own
  uint64_t seed = 1;
  std::string output;
};

// Writes the model file; logs progress. Throws std::invalid_argument on a bad option.
void WriteSynthModel(const SynthOptions& options);

gguf::TensorType ParseTernaryType(const std::string& name);  // i2_s | tq2_0 | tq1_0

}  // namespace ts::model
