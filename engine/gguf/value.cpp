#include <sstream>

#include "engine/gguf/gguf.h"

namespace ts::gguf {

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "u8";
    case ValueType::kInt8: return "i8";
    case ValueType::kUint16: return "u16";
    case ValueType::kInt16: return "i16";
    case ValueType::kUint32: return "u32";
    case ValueType::kInt32: return "i32";
    case ValueType::kFloat32: return "f32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "str";
    case ValueType::kArray: return "arr";
    case ValueType::kUint64: return "u64";
    case ValueType::kInt64: return "i64";
    case ValueType::kFloat64: return "f64";
  }
  return "?";
}

bool Value::IsInteger() const {
  return std::holds_alternative<uint64_t>(data) || std::holds_alternative<int64_t>(data);
}

static std::string TypeMismatch(std::string_view what, const char* wanted, ValueType got) {
  return "metadata '" + std::string(what) + "': expected " + wanted + ", found " + ValueTypeName(got);
}

int64_t Value::AsInt(std::string_view what) const {
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u > static_cast<uint64_t>(INT64_MAX)) throw GgufError("metadata '" + std::string(what) + "': value too large");
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  throw GgufError(TypeMismatch(what, "an integer", type));
}

double Value::AsFloat(std::string_view what) const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (IsInteger()) return static_cast<double>(AsInt(what));
  throw GgufError(TypeMismatch(what, "a number", type));
}

bool Value::AsBool(std::string_view what) const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  throw GgufError(TypeMismatch(what, "a bool", type));
}

const std::string& Value::AsString(std::string_view what) const {
  if (const auto* s = std::get_if<std::string>(&data)) return *s;
  throw GgufError(TypeMismatch(what, "a string", type));
}

const std::vector<Value>& Value::AsArray(std::string_view what) const {
  if (const auto* a = std::get_if<std::vector<Value>>(&data)) return *a;
  throw GgufError(TypeMismatch(what, "an array", type));
}

std::string Value::ToDisplayString(size_t max_items) const {
  std::ostringstream out;
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    out << *u;
  } else if (const auto* i = std::get_if<int64_t>(&data)) {
    out << *i;
  } else if (const auto* d = std::get_if<double>(&data)) {
    out << *d;
  } else if (const auto* b = std::get_if<bool>(&data)) {
    out << (*b ? "true" : "false");
  } else if (const auto* s = std::get_if<std::string>(&data)) {
    std::string shown;
    for (char c : *s) {
      if (c == '\n') shown += "\\n";
      else if (c == '"') shown += "\\\"";
      else shown += c;
      if (shown.size() > 120) {
        shown += "...";
        break;
      }
    }
    out << '"' << shown << '"';
  } else if (const auto* a = std::get_if<std::vector<Value>>(&data)) {
    out << '[';
    for (size_t k = 0; k < a->size() && k < max_items; ++k) {
      if (k) out << ", ";
      out << (*a)[k].ToDisplayString(max_items);
    }
    if (a->size() > max_items) out << ", ... (" << a->size() << " " << ValueTypeName(elem_type) << ")";
    out << ']';
  }
  return out.str();
}

Value Value::Int(ValueType type, int64_t v) { return Value{type, ValueType::kUint8, v}; }
Value Value::Uint(ValueType type, uint64_t v) { return Value{type, ValueType::kUint8, v}; }
Value Value::Float32(float v) { return Value{ValueType::kFloat32, ValueType::kUint8, static_cast<double>(v)}; }
Value Value::Bool(bool v) { return Value{ValueType::kBool, ValueType::kUint8, v}; }
Value Value::String(std::string v) { return Value{ValueType::kString, ValueType::kUint8, std::move(v)}; }
Value Value::Array(ValueType elem_type, std::vector<Value> items) {
  return Value{ValueType::kArray, elem_type, std::move(items)};
}

}  // namespace ts::gguf
