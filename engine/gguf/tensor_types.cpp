#include "engine/gguf/tensor_types.h"

#include <array>

namespace ts::gguf {
namespace {

struct TypeEntry {
  uint32_t id;
  TypeTraits traits;
};

// Block sizes of ggml's types (ggml.c type_traits). block_bytes 0 = a type whose
// size we cannot compute (bitnet.cpp's model-specific lookup-table layouts).
constexpr std::array kTypes = {
    TypeEntry{0, {"F32", 1, 4}},        TypeEntry{1, {"F16", 1, 2}},
    TypeEntry{2, {"Q4_0", 32, 18}},     TypeEntry{3, {"Q4_1", 32, 20}},
    TypeEntry{6, {"Q5_0", 32, 22}},     TypeEntry{7, {"Q5_1", 32, 24}},
    TypeEntry{8, {"Q8_0", 32, 34}},     TypeEntry{9, {"Q8_1", 32, 36}},
    TypeEntry{10, {"Q2_K", 256, 84}},   TypeEntry{11, {"Q3_K", 256, 110}},
    TypeEntry{12, {"Q4_K", 256, 144}},  TypeEntry{13, {"Q5_K", 256, 176}},
    TypeEntry{14, {"Q6_K", 256, 210}},  TypeEntry{15, {"Q8_K", 256, 292}},
    TypeEntry{16, {"IQ2_XXS", 256, 66}}, TypeEntry{17, {"IQ2_XS", 256, 74}},
    TypeEntry{18, {"IQ3_XXS", 256, 98}}, TypeEntry{19, {"IQ1_S", 256, 50}},
    TypeEntry{20, {"IQ4_NL", 32, 18}},  TypeEntry{21, {"IQ3_S", 256, 110}},
    TypeEntry{22, {"IQ2_S", 256, 82}},  TypeEntry{23, {"IQ4_XS", 256, 136}},
    TypeEntry{24, {"I8", 1, 1}},        TypeEntry{25, {"I16", 1, 2}},
    TypeEntry{26, {"I32", 1, 4}},       TypeEntry{27, {"I64", 1, 8}},
    TypeEntry{28, {"F64", 1, 8}},       TypeEntry{29, {"IQ1_M", 256, 56}},
    TypeEntry{30, {"BF16", 1, 2}},      TypeEntry{34, {"TQ1_0", 256, 54}},
    TypeEntry{35, {"TQ2_0", 256, 66}},  TypeEntry{36, {"I2_S", 4, 1}},
    TypeEntry{37, {"TL1", 0, 0}},       TypeEntry{38, {"TL2", 0, 0}},
};

}  // namespace

std::optional<TypeTraits> FindTypeTraits(uint32_t type_id) {
  for (const auto& entry : kTypes) {
    if (entry.id == type_id) return entry.traits;
  }
  return std::nullopt;
}

std::string TypeName(uint32_t type_id) {
  if (auto traits = FindTypeTraits(type_id)) return traits->name;
  return "unknown type " + std::to_string(type_id);
}

std::optional<uint64_t> TensorPayloadBytes(uint32_t type_id, uint64_t n_elements, uint64_t row_length,
                                           std::string* why) {
  auto traits = FindTypeTraits(type_id);
  if (!traits) {
    *why = "unknown tensor type id " + std::to_string(type_id);
    return std::nullopt;
  }
  if (traits->block_bytes == 0) {
    *why = std::string(traits->name) +
           " is a bitnet.cpp lookup-table format specific to one model shape; convert the model to I2_S";
    return std::nullopt;
  }
  if (row_length % traits->block_elements != 0) {
    *why = "row length " + std::to_string(row_length) + " is not a multiple of " + traits->name +
           "'s block of " + std::to_string(traits->block_elements);
    return std::nullopt;
  }
  const uint64_t n_blocks = n_elements / traits->block_elements;
  // Callers bound n_elements (<= 2^62), so this multiply cannot overflow for block_bytes <= 292.
  uint64_t bytes = n_blocks * traits->block_bytes;
  if (type_id == static_cast<uint32_t>(TensorType::kI2_S)) bytes += kI2sTailBytes;
  return bytes;
}

}  // namespace ts::gguf
