#include "engine/gguf/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace ts::gguf {
namespace {

class ByteSink {
 public:
  explicit ByteSink(std::vector<uint8_t>* out) : out_(out) {}
  template <class T>
  void Put(T v) {
    PutBytes(&v, sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    PutBytes(s.data(), s.size());
  }
  // resize + memcpy rather than insert: GCC 12 -O3 misreports insert of a few bytes as an overflow.
  void PutBytes(const void* p, size_t n) {
    const size_t at = out_->size();
    out_->resize(at + n);
    if (n) std::memcpy(out_->data() + at, p, n);
  }
  void PadTo(uint64_t alignment) {
    while (out_->size() % alignment != 0) out_->push_back(0);
  }

 private:
  std::vector<uint8_t>* out_;
};

void PutValue(ByteSink& sink, const Value& v) {
  switch (v.type) {
    case ValueType::kUint8: sink.Put<uint8_t>(static_cast<uint8_t>(std::get<uint64_t>(v.data))); break;
    case ValueType::kInt8: sink.Put<int8_t>(static_cast<int8_t>(std::get<int64_t>(v.data))); break;
    case ValueType::kUint16: sink.Put<uint16_t>(static_cast<uint16_t>(std::get<uint64_t>(v.data))); break;
    case ValueType::kInt16: sink.Put<int16_t>(static_cast<int16_t>(std::get<int64_t>(v.data))); break;
    case ValueType::kUint32: sink.Put<uint32_t>(static_cast<uint32_t>(std::get<uint64_t>(v.data))); break;
    case ValueType::kInt32: sink.Put<int32_t>(static_cast<int32_t>(std::get<int64_t>(v.data))); break;
    case ValueType::kUint64: sink.Put<uint64_t>(std::get<uint64_t>(v.data)); break;
    case ValueType::kInt64: sink.Put<int64_t>(std::get<int64_t>(v.data)); break;
    case ValueType::kFloat32: sink.Put<float>(static_cast<float>(std::get<double>(v.data))); break;
    case ValueType::kFloat64: sink.Put<double>(std::get<double>(v.data)); break;
    case ValueType::kBool: sink.Put<uint8_t>(std::get<bool>(v.data) ? 1 : 0); break;
    case ValueType::kString: sink.PutString(std::get<std::string>(v.data)); break;
    case ValueType::kArray: {
      const auto& items = std::get<std::vector<Value>>(v.data);
      sink.Put<uint32_t>(static_cast<uint32_t>(v.elem_type));
      sink.Put<uint64_t>(items.size());
      for (const auto& item : items) PutValue(sink, item);
      break;
    }
  }
}

}  // namespace

GgufWriter::GgufWriter(uint64_t alignment) : alignment_(alignment) {
  if (alignment_ != kDefaultAlignment) SetU32("general.alignment", static_cast<uint32_t>(alignment_));
}

void GgufWriter::Set(std::string key, Value value) {
  for (auto& kv : metadata_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  metadata_.push_back({std::move(key), std::move(value)});
}

void GgufWriter::SetStringArray(std::string key, const std::vector<std::string>& items) {
  std::vector<Value> values;
  values.reserve(items.size());
  for (const auto& s : items) values.push_back(Value::String(s));
  Set(std::move(key), Value::Array(ValueType::kString, std::move(values)));
}

void GgufWriter::SetF32Array(std::string key, const std::vector<float>& items) {
  std::vector<Value> values;
  values.reserve(items.size());
  for (float f : items) values.push_back(Value::Float32(f));
  Set(std::move(key), Value::Array(ValueType::kFloat32, std::move(values)));
}

void GgufWriter::SetI32Array(std::string key, const std::vector<int32_t>& items) {
  std::vector<Value> values;
  values.reserve(items.size());
  for (int32_t i : items) values.push_back(Value::Int(ValueType::kInt32, i));
  Set(std::move(key), Value::Array(ValueType::kInt32, std::move(values)));
}

void GgufWriter::AddTensor(std::string name, uint32_t type_id, std::vector<uint64_t> dims,
                           std::span<const uint8_t> data) {
  uint64_t n_elements = 1;
  for (uint64_t d : dims) n_elements *= d;
  std::string why;
  auto expected = TensorPayloadBytes(type_id, n_elements, dims.empty() ? 0 : dims[0], &why);
  if (!expected) throw GgufError("tensor '" + name + "': " + why);
  if (*expected != data.size()) {
    throw GgufError("tensor '" + name + "': " + std::to_string(data.size()) + " bytes given, " +
                    TypeName(type_id) + " needs " + std::to_string(*expected));
  }
  AddRawTensor(std::move(name), type_id, std::move(dims), std::vector<uint8_t>(data.begin(), data.end()));
}

void GgufWriter::AddRawTensor(std::string name, uint32_t type_id, std::vector<uint64_t> dims,
                              std::vector<uint8_t> data) {
  tensors_.push_back({std::move(name), type_id, std::move(dims), std::move(data)});
}

std::vector<uint8_t> GgufWriter::HeaderBytes() const {
  std::vector<uint8_t> out;
  ByteSink sink(&out);
  sink.Put<uint32_t>(kMagic);
  sink.Put<uint32_t>(3);
  sink.Put<uint64_t>(tensors_.size());
  sink.Put<uint64_t>(metadata_.size());
  for (const auto& kv : metadata_) {
    sink.PutString(kv.key);
    sink.Put<uint32_t>(static_cast<uint32_t>(kv.value.type));
    PutValue(sink, kv.value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    sink.PutString(t.name);
    sink.Put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) sink.Put<uint64_t>(d);
    sink.Put<uint32_t>(t.type_id);
    sink.Put<uint64_t>(offset);
    offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  sink.PadTo(alignment_);
  return out;
}

std::vector<uint8_t> GgufWriter::ToBytes() const {
  std::vector<uint8_t> out = HeaderBytes();
  ByteSink sink(&out);
  for (const auto& t : tensors_) {
    sink.PutBytes(t.data.data(), t.data.size());
    sink.PadTo(alignment_);
  }
  return out;
}

void GgufWriter::WriteFile(const std::string& path) const {
  // Streams tensor data straight from memory: a 2B model is not copied twice.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw GgufError(path + ": cannot create: " + std::strerror(errno));
    const std::vector<uint8_t> header = HeaderBytes();
    f.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    const char zeros[256] = {};
    for (const auto& t : tensors_) {
      f.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
      const uint64_t pad = (alignment_ - t.data.size() % alignment_) % alignment_;
      for (uint64_t left = pad; left > 0;) {
        const uint64_t n = left < sizeof(zeros) ? left : sizeof(zeros);
        f.write(zeros, static_cast<std::streamsize>(n));
        left -= n;
      }
    }
    if (!f) throw GgufError(path + ": write failed: " + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw GgufError(path + ": cannot rename from " + tmp + ": " + ec.message());
}

}  // namespace ts::gguf
