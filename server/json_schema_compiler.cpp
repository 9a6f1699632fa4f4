#include "server/json_schema_compiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string_view>

#include "server/api_error.h"

namespace ts::server {
namespace {

using json = nlohmann::ordered_json;
using sample::JsonSchemaNode;

constexpr int kMaxNodes = 1024;
constexpr int kMaxNesting = 32;  // schema nesting (the reply's own nesting is capped separately)

// Assertions a reply could break if they were ignored.
// clang-format off
constexpr std::array<std::string_view, 26> kUnsupported = {
    "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "uniqueItems", "minProperties", "maxProperties",
    "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas", "dependencies",
    "if", "then", "else", "not", "allOf", "prefixItems", "contains", "unevaluatedProperties",
    "unevaluatedItems", "additionalItems"};
// clang-format on

class Compiler {
 public:
  Compiler(const json& document, std::string param)
      : document_(document), param_(std::move(param)) {
    schema_.nodes.resize(1);  // node 0: any value
  }

  sample::JsonSchema Run() {
    schema_.root = Sub(document_, "", 0);
    // A reply is an object: a root that also allows other types ({} or ["object", "null"])
    // is narrowed to its object part.
    JsonSchemaNode& root = schema_.nodes[static_cast<size_t>(schema_.root)];
    if ((root.types & sample::kJsonObject) == 0 || !root.literals.empty()) {
      Fail("", "the top level must be an object schema (\"type\": \"object\")");
    }
    if (root.types != sample::kJsonObject) {
      // Copied first: the root may be shared through a $ref, and only the reply's top changes.
      JsonSchemaNode object_only = root;
      object_only.types = sample::kJsonObject;
      schema_.root = NewNode();
      schema_.nodes[static_cast<size_t>(schema_.root)] = std::move(object_only);
    }
    return std::move(schema_);
  }

 private:
  [[noreturn]] void Fail(const std::string& path, const std::string& what) const {
    const std::string where = !path.empty() && path[0] == '.' ? path.substr(1) : path;
    throw BadRequest(param_ + (where.empty() ? "" : " at " + where) + ": " + what, param_);
  }

  int NewNode() {
    if (static_cast<int>(schema_.nodes.size()) >= kMaxNodes) Fail("", "the schema is too large");
    schema_.nodes.emplace_back();
    return static_cast<int>(schema_.nodes.size()) - 1;
  }

  // Returns the node for a subschema: the shared one of a $ref, else a new one.
  int Sub(const json& s, const std::string& path, int depth) {
    if (s.is_object()) {
      if (const auto ref = s.find("$ref"); ref != s.end()) return Ref(*ref, path, depth);
    }
    const int index = NewNode();
    Compile(s, path, depth, index);
    return index;
  }

  int Ref(const json& ref, const std::string& path, int depth) {
    if (!ref.is_string()) Fail(path, "'$ref' must be a string");
    const std::string& target = ref.get_ref<const std::string&>();
    if (const auto it = refs_.find(target); it != refs_.end()) return it->second;
    if (target.empty() || target[0] != '#')
      Fail(path, "only local '$ref's (\"#/$defs/...\") are supported");
    const json* resolved = nullptr;
    try {
      resolved = &document_.at(json::json_pointer(target.substr(1)));
    } catch (const json::exception&) {
      Fail(path, "'$ref' " + target + " does not resolve");
    }
    const int index = NewNode();
    refs_[target] = index;  // before compiling it: the target may refer to itself
    Compile(*resolved, target, depth, index);
    return index;
  }

  // Returns a copy of a finished node (anyOf merges and $ref chains copy nodes); `what` says
  // why an unfinished one cannot be copied.
  JsonSchemaNode Finished(int index, const std::string& path, const char* what) const {
    if (compiling_.count(index) != 0) Fail(path, what);
    return schema_.nodes[static_cast<size_t>(index)];
  }

  static uint8_t TypeBit(const std::string& name) {
    if (name == "null") return sample::kJsonNull;
    if (name == "boolean") return sample::kJsonBool;
    if (name == "integer") return sample::kJsonInteger;
    if (name == "number") return sample::kJsonNumber;
    if (name == "string") return sample::kJsonString;
    if (name == "array") return sample::kJsonArray;
    if (name == "object") return sample::kJsonObject;
    return 0;
  }

  uint8_t Types(const json& type, const std::string& path) const {
    const auto bit = [&](const json& t) {
      const uint8_t b = t.is_string() ? TypeBit(t.get<std::string>()) : 0;
      if (b == 0) Fail(path, "unknown 'type' " + t.dump());
      return b;
    };
    if (!type.is_array()) return bit(type);
    uint8_t types = 0;
    for (const json& t : type) types |= bit(t);
    if (types == 0) Fail(path, "'type' must not be empty");
    return types;
  }

  void Compile(const json& s, const std::string& path, int depth, int index) {
    if (depth > kMaxNesting) Fail(path, "the schema is nested too deeply");
    if (s.is_boolean() && s.get<bool>()) return;  // true: any value (node defaults)
    if (!s.is_object()) Fail(path, "a schema must be an object");
    for (const std::string_view keyword : kUnsupported) {
      if (s.contains(keyword)) Fail(path, fmt::format("'{}' is not supported", keyword));
    }
    compiling_.insert(index);
    if (const auto ref = s.find("$ref"); ref != s.end()) {
      // A $ref to a $ref: the referenced schema alone decides (draft 7).
      JsonSchemaNode target =
          Finished(Ref(*ref, path, depth + 1), path, "the '$ref' refers back to itself");
      schema_.nodes[static_cast<size_t>(index)] = std::move(target);
      compiling_.erase(index);
      return;
    }
    JsonSchemaNode node;
    if (const auto type = s.find("type"); type != s.end()) {
      node.types = Types(*type, path);
    } else if (s.contains("properties")) {
      node.types =
          sample::kJsonObject;  // what a schema with properties but no type means in practice
    } else if (s.contains("items")) {
      node.types = sample::kJsonArray;
    }
    if (const auto e = s.find("enum"); e != s.end()) {
      if (!e->is_array() || e->empty()) Fail(path, "'enum' must be a non-empty array");
      if (e->size() > JsonSchemaNode::kMaxChoices) Fail(path, "'enum' has more than 64 values");
      for (const json& v : *e) node.literals.push_back(v.dump());
    }
    if (const auto c = s.find("const"); c != s.end()) node.literals = {c->dump()};
    for (const char* key : {"anyOf", "oneOf"}) {
      if (const auto alternatives = s.find(key); alternatives != s.end()) {
        Alternatives(*alternatives, path + "." + key, depth, &node);
      }
    }
    if (const auto props = s.find("properties"); props != s.end()) {
      if (!props->is_object()) Fail(path, "'properties' must be an object");
      if (props->size() > JsonSchemaNode::kMaxChoices) Fail(path, "more than 64 'properties'");
      for (const auto& [name, sub] : props->items()) {
        node.properties.push_back(
            {json(name).dump(), Sub(sub, path + ".properties." + name, depth + 1), false});
      }
      if (const auto required = s.find("required"); required != s.end()) {
        if (!required->is_array()) Fail(path, "'required' must be an array");
        for (const json& name : *required) {
          auto it = std::find_if(
              node.properties.begin(), node.properties.end(),
              [&](const auto& p) { return name.is_string() && p.key_literal == name.dump(); });
          if (it == node.properties.end())
            Fail(path, "'required' names " + name.dump() + ", which is not in 'properties'");
          it->required = true;
        }
      }
    }
    // Without properties, additionalProperties says what the values are (a map); beside
    // properties it is moot, since only the declared keys are written.
    const auto additional = s.find("additionalProperties");
    node.closed = !node.properties.empty() || (additional != s.end() && *additional == false);
    if (additional != s.end() && additional->is_object() && node.properties.empty()) {
      node.values = Sub(*additional, path + ".additionalProperties", depth + 1);
    }
    if (const auto items = s.find("items"); items != s.end()) {
      if (!items->is_object() && !items->is_boolean()) Fail(path, "'items' must be a schema");
      node.items = Sub(*items, path + ".items", depth + 1);
    }
    const auto count = [&](const char* key, int fallback) {
      const auto v = s.find(key);
      if (v == s.end()) return fallback;
      if (!v->is_number_unsigned() || v->get<uint64_t>() > 100000)
        Fail(path, fmt::format("'{}' must be a count", key));
      return static_cast<int>(v->get<uint64_t>());
    };
    node.min_items = count("minItems", 0);
    node.max_items = count("maxItems", -1);
    if (node.max_items >= 0 && node.max_items < node.min_items)
      Fail(path, "'maxItems' is below 'minItems'");
    schema_.nodes[static_cast<size_t>(index)] = std::move(node);
    compiling_.erase(index);
  }

  // anyOf / oneOf: alternatives of different types (["string", "null"], an object or null, ...)
  // merge into one node; alternatives that only a later byte could tell apart are refused.
  void Alternatives(const json& list, const std::string& path, int depth, JsonSchemaNode* node) {
    if (!list.is_array() || list.empty()) Fail(path, "must be a non-empty array of schemas");
    JsonSchemaNode merged;
    merged.types = 0;
    bool all_literals = true;
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string alt_path = path + "[" + std::to_string(i) + "]";
      const JsonSchemaNode alt =
          Finished(Sub(list[i], alt_path, depth + 1), alt_path,
                   "a recursive '$ref' inside 'anyOf' / 'oneOf' is not supported");
      if (!alt.literals.empty()) {
        merged.literals.insert(merged.literals.end(), alt.literals.begin(), alt.literals.end());
        continue;
      }
      all_literals = false;
      if ((merged.types & alt.types) != 0) {
        Fail(path,
             "alternatives of the same type are not supported (only ones a reply's first byte "
             "tells apart)");
      }
      merged.types |= alt.types;
      if (alt.types & sample::kJsonObject) {
        merged.closed = alt.closed;
        merged.values = alt.values;
        merged.properties = alt.properties;
      }
      if (alt.types & sample::kJsonArray) {
        merged.items = alt.items;
        merged.min_items = alt.min_items;
        merged.max_items = alt.max_items;
      }
    }
    if (!all_literals && !merged.literals.empty()) {
      Fail(path, "mixing 'enum' / 'const' alternatives with typed ones is not supported");
    }
    if (merged.literals.size() > JsonSchemaNode::kMaxChoices) Fail(path, "more than 64 values");
    if (all_literals) merged.types = sample::kJsonAny;
    // Keywords beside anyOf narrow it further only by type.
    if (node->types != sample::kJsonAny && !all_literals) merged.types &= node->types;
    *node = std::move(merged);
  }

  const json& document_;
  std::string param_;
  sample::JsonSchema schema_;
  std::map<std::string, int> refs_;
  std::set<int> compiling_;  // nodes whose Compile has not returned yet
};

}  // namespace

std::shared_ptr<const sample::JsonSchema> CompileJsonSchema(const nlohmann::ordered_json& schema,
                                                            const std::string& param) {
  return std::make_shared<const sample::JsonSchema>(Compiler(schema, param).Run());
}

}  // namespace ts::server
