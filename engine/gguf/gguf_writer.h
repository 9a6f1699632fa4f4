// Writes GGUF version 3 files: metadata in insertion order, tensor infos, and
// tensor data aligned to `general.alignment`. Used by `synth`, the converter's
// tests and unit tests that build (also deliberately malformed) files.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"

namespace ts::gguf {

class GgufWriter {
 public:
  explicit GgufWriter(uint64_t alignment = kDefaultAlignment);

  void Set(std::string key, Value value);  // replaces an existing key
  void SetString(std::string key, std::string v) { Set(std::move(key), Value::String(std::move(v))); }
  void SetU32(std::string key, uint32_t v) { Set(std::move(key), Value::Uint(ValueType::kUint32, v)); }
  void SetI32(std::string key, int32_t v) { Set(std::move(key), Value::Int(ValueType::kInt32, v)); }
  void SetF32(std::string key, float v) { Set(std::move(key), Value::Float32(v)); }
  void SetBool(std::string key, bool v) { Set(std::move(key), Value::Bool(v)); }
  void SetStringArray(std::string key, const std::vector<std::string>& items);
  void SetF32Array(std::string key, const std::vector<float>& items);
  void SetI32Array(std::string key, const std::vector<int32_t>& items);

  // Adds a tensor; `data` is copied and must be exactly the type's payload size
  // for `dims` (checked; throws GgufError otherwise).
  void AddTensor(std::string name, uint32_t type_id, std::vector<uint64_t> dims,
                 std::span<const uint8_t> data);
  // Same without the size check, for tests that build malformed files.
  void AddRawTensor(std::string name, uint32_t type_id, std::vector<uint64_t> dims,
                    std::vector<uint8_t> data);

  std::vector<uint8_t> ToBytes() const;  // the whole file image
  // Writes the file (to a temporary name, then renamed). Throws GgufError on I/O failure.
  void WriteFile(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    uint32_t type_id;
    std::vector<uint64_t> dims;
    std::vector<uint8_t> data;
  };
  std::vector<uint8_t> HeaderBytes() const;  // everything before the tensor data, padded

  uint64_t alignment_;
  std::vector<KeyValue> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace ts::gguf
