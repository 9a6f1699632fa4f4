// Encodes ternary weights into the GGUF formats the engine reads (the inverse
// of tensor_decode.h): I2_S, TQ2_0, TQ1_0. Used by `synth` and tests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/gguf/tensor_types.h"

namespace ts::model {

// Returns the payload of a ternary tensor [n_rows, n_cols] (trits row-major, values -1/0/+1)
// with per-tensor `scale`, in `type` (kI2_S, kTQ2_0 or kTQ1_0). Requires n_cols % 128 == 0
// (I2_S) or % 256 == 0 (TQ types); throws std::invalid_argument otherwise.
std::vector<uint8_t> EncodeTernary(std::span<const int8_t> trits, int n_rows, int n_cols, float scale,
                                   gguf::TensorType type);

}  // namespace ts::model
