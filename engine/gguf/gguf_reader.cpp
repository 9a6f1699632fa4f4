// Parses a GGUF image. All reads go through Cursor, which checks every length
// against the bytes that remain, so hostile files fail with a message naming
// the field and its offset.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "engine/gguf/gguf.h"

namespace ts::gguf {
namespace {

constexpr uint64_t kMaxStringBytes = uint64_t{1} << 30;  // no real key/token is near 1 GiB
constexpr int kMaxArrayDepth = 4;                       // GGUF arrays nest; real files use 1
constexpr uint32_t kMaxDims = 4;                        // ggml's GGML_MAX_DIMS
constexpr uint64_t kMaxElements = uint64_t{1} << 50;

class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size) : base_(base), size_(size) {}

  uint64_t offset() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  template <class T>
  T Read(const char* field) {
    Need(sizeof(T), field);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string ReadString(const char* field) {
    const uint64_t at = pos_;
    const auto n = Read<uint64_t>(field);
    if (n > kMaxStringBytes || n > remaining()) {
      throw GgufError(std::string(field) + ": string length " + std::to_string(n) + " at offset " +
                      std::to_string(at) + " exceeds the " + std::to_string(remaining()) +
                      " bytes left in the file");
    }
    std::string s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }

  void Need(uint64_t n, const char* field) const {
    if (n > remaining()) {
      throw GgufError(std::string("file truncated: ") + field + " needs " + std::to_string(n) +
                      " bytes at offset " + std::to_string(pos_) + ", only " +
                      std::to_string(remaining()) + " left");
    }
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

// Smallest encoded size of one value of `type`: bounds array counts before allocating.
uint64_t MinEncodedBytes(ValueType type) {
  switch (type) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kBool: return 1;
    case ValueType::kUint16: case ValueType::kInt16: return 2;
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kFloat32: return 4;
    case ValueType::kUint64: case ValueType::kInt64: case ValueType::kFloat64: return 8;
    case ValueType::kString: return 8;
    case ValueType::kArray: return 12;
  }
  return 1;
}

bool IsValidValueType(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kFloat64); }

Value ReadValue(Cursor& cur, ValueType type, const std::string& key, int depth) {
  const char* field = key.c_str();
  switch (type) {
    case ValueType::kUint8: return Value::Uint(type, cur.Read<uint8_t>(field));
    case ValueType::kInt8: return Value::Int(type, cur.Read<int8_t>(field));
    case ValueType::kUint16: return Value::Uint(type, cur.Read<uint16_t>(field));
    case ValueType::kInt16: return Value::Int(type, cur.Read<int16_t>(field));
    case ValueType::kUint32: return Value::Uint(type, cur.Read<uint32_t>(field));
    case ValueType::kInt32: return Value::Int(type, cur.Read<int32_t>(field));
    case ValueType::kUint64: return Value::Uint(type, cur.Read<uint64_t>(field));
    case ValueType::kInt64: return Value::Int(type, cur.Read<int64_t>(field));
    case ValueType::kFloat32: return Value::Float32(cur.Read<float>(field));
    case ValueType::kFloat64: {
      Value v = Value::Float32(0);
      v.type = ValueType::kFloat64;
      v.data = cur.Read<double>(field);
      return v;
    }
    case ValueType::kBool: {
      const uint64_t at = cur.offset();
      const auto b = cur.Read<uint8_t>(field);
      if (b > 1) throw GgufError("metadata '" + key + "': bool byte " + std::to_string(b) + " at offset " + std::to_string(at));
      return Value::Bool(b != 0);
    }
    case ValueType::kString: return Value::String(cur.ReadString(field));
    case ValueType::kArray: {
      const uint64_t at = cur.offset();
      if (depth >= kMaxArrayDepth) throw GgufError("metadata '" + key + "': arrays nested too deeply at offset " + std::to_string(at));
      const auto elem_raw = cur.Read<uint32_t>(field);
      if (!IsValidValueType(elem_raw)) {
        throw GgufError("metadata '" + key + "': invalid array element type " + std::to_string(elem_raw) +
                        " at offset " + std::to_string(at));
      }
      const auto elem = static_cast<ValueType>(elem_raw);
      const auto count = cur.Read<uint64_t>(field);
      if (count > cur.remaining() / MinEncodedBytes(elem)) {
        throw GgufError("metadata '" + key + "': array count " + std::to_string(count) + " at offset " +
                        std::to_string(at) + " cannot fit in the " + std::to_string(cur.remaining()) +
                        " bytes left");
      }
      std::vector<Value> items;
      items.reserve(count);
      for (uint64_t k = 0; k < count; ++k) items.push_back(ReadValue(cur, elem, key, depth + 1));
      return Value::Array(elem, std::move(items));
    }
  }
  throw GgufError("metadata '" + key + "': invalid value type");
}

}  // namespace

uint64_t TensorInfo::rows() const {
  uint64_t r = 1;
  for (size_t k = 1; k < dims.size(); ++k) r *= dims[k];
  return r;
}

GgufFile GgufFile::Open(const std::string& path) {
  GgufFile file;
  file.path_ = path;
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw GgufError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw GgufError(path + ": not a regular file");
  }
  file.size_ = static_cast<uint64_t>(st.st_size);
  if (file.size_ == 0) {
    ::close(fd);
    throw GgufError(path + ": empty file, not GGUF");
  }
  void* map = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw GgufError(path + ": mmap failed: " + std::strerror(errno));
  file.base_ = static_cast<const uint8_t*>(map);
  file.mapped_ = true;
  try {
    file.Parse();
  } catch (const GgufError& e) {
    throw GgufError(path + ": " + e.what());
  }
  return file;
}

GgufFile GgufFile::FromBytes(std::span<const uint8_t> bytes) {
  GgufFile file;
  file.path_ = "<memory>";
  file.owned_.assign(bytes.begin(), bytes.end());
  file.base_ = file.owned_.data();
  file.size_ = file.owned_.size();
  file.Parse();
  return file;
}

void GgufFile::Parse() {
  Cursor cur(base_, size_);
  const auto magic = cur.Read<uint32_t>("magic");
  if (magic != kMagic) throw GgufError("not a GGUF file (bad magic at offset 0)");
  version_ = cur.Read<uint32_t>("version");
  if (version_ == 1) throw GgufError("GGUF version 1 is not supported (re-convert the model)");
  if (version_ != 2 && version_ != 3) {
    throw GgufError("unsupported GGUF version " + std::to_string(version_) +
                    (version_ > 0xFFFF ? " (a big-endian file?)" : ""));
  }
  const auto n_tensors = cur.Read<uint64_t>("tensor count");
  const auto n_kv = cur.Read<uint64_t>("metadata count");
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info 8+4+8+4+8.
  if (n_kv > cur.remaining() / 13) {
    throw GgufError("metadata count " + std::to_string(n_kv) + " at offset 16 cannot fit in the file");
  }
  if (n_tensors > cur.remaining() / 32) {
    throw GgufError("tensor count " + std::to_string(n_tensors) + " at offset 8 cannot fit in the file");
  }

  std::unordered_set<std::string> seen_keys;
  metadata_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t at = cur.offset();
    std::string key = cur.ReadString("metadata key");
    if (!seen_keys.insert(key).second) {
      throw GgufError("duplicate metadata key '" + key + "' at offset " + std::to_string(at));
    }
    const uint64_t type_at = cur.offset();
    const auto type_raw = cur.Read<uint32_t>("metadata value type");
    if (!IsValidValueType(type_raw)) {
      throw GgufError("metadata '" + key + "': invalid value type " + std::to_string(type_raw) +
                      " at offset " + std::to_string(type_at));
    }
    Value value = ReadValue(cur, static_cast<ValueType>(type_raw), key, 0);
    metadata_.push_back({std::move(key), std::move(value)});
  }

  if (const Value* align = Find("general.alignment")) {
    if (!align->IsInteger()) throw GgufError("general.alignment must be an integer");
    const int64_t a = align->AsInt("general.alignment");
    if (a <= 0 || (a & (a - 1)) != 0 || a > (1 << 20)) {
      throw GgufError("general.alignment " + std::to_string(a) + " is not a power of two <= 1 MiB");
    }
    alignment_ = static_cast<uint64_t>(a);
  }

  std::unordered_set<std::string> seen_names;
  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    const uint64_t at = cur.offset();
    TensorInfo t;
    t.name = cur.ReadString("tensor name");
    const std::string where = "tensor '" + t.name + "' (info at offset " + std::to_string(at) + ")";
    if (!seen_names.insert(t.name).second) throw GgufError("duplicate " + where);
    const auto n_dims = cur.Read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims) {
      throw GgufError(where + ": " + std::to_string(n_dims) + " dimensions (1.." + std::to_string(kMaxDims) + " allowed)");
    }
    t.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto dim = cur.Read<uint64_t>("tensor dimension");
      if (dim == 0 || dim > kMaxElements || t.n_elements > kMaxElements / dim) {
        throw GgufError(where + ": dimension " + std::to_string(d) + " = " + std::to_string(dim) +
                        " is zero or makes the tensor impossibly large");
      }
      t.dims.push_back(dim);
      t.n_elements *= dim;
    }
    t.type_id = cur.Read<uint32_t>("tensor type");
    t.offset = cur.Read<uint64_t>("tensor data offset");
    std::string why;
    auto bytes = TensorPayloadBytes(t.type_id, t.n_elements, t.dims[0], &why);
    if (!bytes) throw GgufError(where + ": " + why);
    t.n_bytes = *bytes;
    if (t.offset % alignment_ != 0) {
      throw GgufError(where + ": data offset " + std::to_string(t.offset) + " is not aligned to " +
                      std::to_string(alignment_));
    }
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  data_offset_ = (cur.offset() + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > size_ && !tensors_.empty()) {
    throw GgufError("file truncated: tensor data would start at offset " + std::to_string(data_offset_) +
                    " beyond the file size " + std::to_string(size_));
  }
  const uint64_t data_bytes = size_ > data_offset_ ? size_ - data_offset_ : 0;
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors_) {
    if (t.offset > data_bytes || t.n_bytes > data_bytes - t.offset) {
      throw GgufError("tensor '" + t.name + "' (" + TypeName(t.type_id) + ", " + std::to_string(t.n_bytes) +
                      " bytes at data offset " + std::to_string(t.offset) + ") extends past the end of the file" +
                      " (data section holds " + std::to_string(data_bytes) + " bytes): truncated file?");
    }
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const TensorInfo* prev = by_offset[k - 1];
    if (prev->offset + prev->n_bytes > by_offset[k]->offset) {
      throw GgufError("tensors '" + prev->name + "' and '" + by_offset[k]->name + "' overlap in the data section");
    }
  }
}

const Value* GgufFile::Find(std::string_view key) const {
  for (const auto& kv : metadata_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::optional<int64_t> GgufFile::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return std::nullopt;
  return v->AsInt(key);
}

std::optional<double> GgufFile::GetFloat(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return std::nullopt;
  return v->AsFloat(key);
}

std::optional<bool> GgufFile::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return std::nullopt;
  return v->AsBool(key);
}

std::optional<std::string> GgufFile::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return std::nullopt;
  return v->AsString(key);
}

std::vector<std::string> GgufFile::GetStringArray(std::string_view key) const {
  std::vector<std::string> out;
  if (const Value* v = Find(key)) {
    const auto& items = v->AsArray(key);
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(item.AsString(key));
  }
  return out;
}

std::vector<float> GgufFile::GetFloatArray(std::string_view key) const {
  std::vector<float> out;
  if (const Value* v = Find(key)) {
    const auto& items = v->AsArray(key);
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(static_cast<float>(item.AsFloat(key)));
  }
  return out;
}

std::vector<int64_t> GgufFile::GetIntArray(std::string_view key) const {
  std::vector<int64_t> out;
  if (const Value* v = Find(key)) {
    const auto& items = v->AsArray(key);
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(item.AsInt(key));
  }
  return out;
}

std::span<const uint8_t> GgufFile::TensorData(const TensorInfo& tensor) const {
  return {base_ + data_offset_ + tensor.offset, tensor.n_bytes};
}

void GgufFile::ReleaseTensorPages(const TensorInfo& tensor) const {
  if (!mapped_) return;
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto page_bytes = static_cast<uint64_t>(page > 0 ? page : 4096);
  const uint64_t begin = (data_offset_ + tensor.offset + page_bytes - 1) / page_bytes * page_bytes;
  const uint64_t end = (data_offset_ + tensor.offset + tensor.n_bytes) / page_bytes * page_bytes;
  if (end > begin) {
    // Only whole pages inside the tensor: neighbours may still be needed.
    ::madvise(const_cast<uint8_t*>(base_) + begin, end - begin, MADV_DONTNEED);
  }
}

void GgufFile::Reset() noexcept {
  if (mapped_ && base_) ::munmap(const_cast<uint8_t*>(base_), size_);
  base_ = nullptr;
  mapped_ = false;
  size_ = 0;
}

GgufFile::GgufFile(GgufFile&& other) noexcept { *this = std::move(other); }

GgufFile& GgufFile::operator=(GgufFile&& other) noexcept {
  if (this == &other) return *this;
  Reset();
  path_ = std::move(other.path_);
  owned_ = std::move(other.owned_);
  mapped_ = other.mapped_;
  base_ = mapped_ ? other.base_ : owned_.data();
  size_ = other.size_;
  version_ = other.version_;
  alignment_ = other.alignment_;
  data_offset_ = other.data_offset_;
  metadata_ = std::move(other.metadata_);
  tensors_ = std::move(other.tensors_);
  other.base_ = nullptr;
  other.mapped_ = false;
  other.size_ = 0;
  return *this;
}

GgufFile::~GgufFile() { Reset(); }

}  // namespace ts::gguf
