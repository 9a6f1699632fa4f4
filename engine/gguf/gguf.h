// GGUF model files: metadata values, tensor infos, and a bounds-checked reader
// over an mmap'd file. Reads versions 2 and 3. Every offset and length read
// from the file is checked against the file size before use; a malformed file
// raises GgufError naming the field and its offset, never undefined behaviour.
//
// Not here: decoding tensor payloads (engine/model) or model semantics.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/gguf/tensor_types.h"

namespace ts::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
inline constexpr uint64_t kDefaultAlignment = 32;

class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
const char* ValueTypeName(ValueType type);

// One metadata value. Integers keep their file type but are stored widened;
// arrays hold their element type and may nest.
struct Value {
  ValueType type = ValueType::kUint32;
  ValueType elem_type = ValueType::kUint8;  // only for kArray
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<Value>> data;

  bool IsInteger() const;
  bool IsFloat() const { return type == ValueType::kFloat32 || type == ValueType::kFloat64; }
  // Typed views; each throws GgufError (naming `what`) when the type does not fit.
  int64_t AsInt(std::string_view what) const;
  double AsFloat(std::string_view what) const;  // accepts integers too
  bool AsBool(std::string_view what) const;
  const std::string& AsString(std::string_view what) const;
  const std::vector<Value>& AsArray(std::string_view what) const;
  // Short human-readable rendering; long arrays are abbreviated.
  std::string ToDisplayString(size_t max_items = 8) const;

  static Value Int(ValueType type, int64_t v);
  static Value Uint(ValueType type, uint64_t v);
  static Value Float32(float v);
  static Value Bool(bool v);
  static Value String(std::string v);
  static Value Array(ValueType elem_type, std::vector<Value> items);
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the contiguous row length
  uint32_t type_id = 0;
  uint64_t offset = 0;         // relative to the start of the tensor data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;

  TensorType type() const { return static_cast<TensorType>(type_id); }
  uint64_t rows() const;  // product of dims[1..]
};

// A GGUF file mapped read-only. Move-only; unmaps on destruction.
class GgufFile {
 public:
  // Returns the parsed file; throws GgufError with the path and the reason.
  static GgufFile Open(const std::string& path);
  // Parses an in-memory image (tests, fuzzing). The bytes are copied.
  static GgufFile FromBytes(std::span<const uint8_t> bytes);

  GgufFile(GgufFile&& other) noexcept;
  GgufFile& operator=(GgufFile&& other) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }
  const std::string& path() const { return path_; }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const Value* Find(std::string_view key) const;
  const TensorInfo* FindTensor(std::string_view name) const;

  // Typed metadata lookups: nullopt when the key is absent, GgufError when present
  // with a type that does not fit.
  std::optional<int64_t> GetInt(std::string_view key) const;
  std::optional<double> GetFloat(std::string_view key) const;
  std::optional<bool> GetBool(std::string_view key) const;
  std::optional<std::string> GetString(std::string_view key) const;
  std::vector<std::string> GetStringArray(std::string_view key) const;  // empty if absent
  std::vector<float> GetFloatArray(std::string_view key) const;         // empty if absent
  std::vector<int64_t> GetIntArray(std::string_view key) const;         // empty if absent

  // The bytes of a tensor (bounds were checked at open).
  std::span<const uint8_t> TensorData(const TensorInfo& tensor) const;
  // Tells the kernel the tensor's pages will not be read again (after repacking),
  // so a file-backed mapping stops counting towards resident memory.
  void ReleaseTensorPages(const TensorInfo& tensor) const;

 private:
  GgufFile() = default;
  void Parse();
  void Reset() noexcept;

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;                 // base_ is an mmap (else owned_)
  std::vector<uint8_t> owned_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace ts::gguf
