// Decodes GGUF tensor payloads into plain arrays: ternary tensors (I2_S, TQ1_0,
// TQ2_0, or float types holding s * {-1,0,+1}) into trits plus scales, and the
// float-ish types of embeddings/heads/norms (F32, F16, BF16, Q8_0, Q6_K) into f32.
// Layouts: ../shared/formats.md section 2. Errors name the tensor.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/gguf/gguf.h"

namespace ts::model {

struct DecodedTernary {
  int n_rows = 0, n_cols = 0;      // [n_rows, n_cols], n_cols = ggml dims[0]
  std::vector<int8_t> trits;       // [n_rows, n_cols] values -1, 0, +1
  float scale = 1.0f;              // per-tensor scale
  std::vector<float> row_scale;    // [n_rows] when block scales differ between rows, else empty
};

// Returns the ternary content of a 2-D tensor. Float tensors that are not
// exactly s * {-1,0,+1} are ternarized with the absmean rule (BitNet b1.58) and
// `*was_exact` is set false. Throws std::runtime_error naming the tensor.
DecodedTernary DecodeTernary(const gguf::TensorInfo& info, std::span<const uint8_t> data,
                             bool* was_exact = nullptr);

// Returns all elements of a tensor as f32 (F32, F16, BF16, Q8_0, Q6_K).
std::vector<float> DecodeFloat(const gguf::TensorInfo& info, std::span<const uint8_t> data);

}  // namespace ts::model
