// ggml tensor type ids and their storage sizes, as found in GGUF files.
// Knows every type llama.cpp writes (so `inspect` can show any file) plus
// bitnet.cpp's I2_S; the engine itself decodes only the ternary-model subset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ts::gguf {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ8_0 = 8,
  kQ6_K = 14,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kI2_S = 36,  // bitnet.cpp's fork; mainline llama.cpp has no type 36 of this meaning
};

// I2_S stores a 32-byte tail after the packed codes; its first 4 bytes are the
// per-tensor f32 scale (older converters repeat it 8 times).
inline constexpr uint64_t kI2sTailBytes = 32;

struct TypeTraits {
  const char* name;
  uint64_t block_elements;  // weights per block
  uint64_t block_bytes;     // bytes per block; 0 = layout we cannot size
};

// Returns the traits of a known type id, or nullopt.
std::optional<TypeTraits> FindTypeTraits(uint32_t type_id);
// "TQ2_0", or "unknown type 99".
std::string TypeName(uint32_t type_id);
// Returns the exact payload size of a tensor with n_elements whose rows are
// row_length long; nullopt with `why` filled when the type or shape cannot hold it.
std::optional<uint64_t> TensorPayloadBytes(uint32_t type_id, uint64_t n_elements, uint64_t row_length,
                                           std::string* why);

}  // namespace ts::gguf
