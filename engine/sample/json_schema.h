// The JSON shapes a constrained reply may take: a small schema language that JSON mode
// (any object) and OpenAI's Structured Outputs (`json_schema`, compiled by the server) both
// become. Nodes refer to each other by index, so recursive schemas ($ref) are fine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ts::sample {

enum JsonType : uint8_t {
  kJsonNull = 1,
  kJsonBool = 2,
  kJsonInteger = 4,
  kJsonNumber = 8,  // any number, integers included
  kJsonString = 16,
  kJsonArray = 32,
  kJsonObject = 64,
  kJsonAny = 127,
};

struct JsonSchemaNode {
  static constexpr int kMaxChoices = 64;  // enum values, object properties

  uint8_t types = kJsonAny;
  // enum / const: when non-empty the value must be one of these JSON texts exactly (as
  // nlohmann::json::dump writes them), whatever `types` says.
  std::vector<std::string> literals;

  // Objects. Closed: exactly these keys (each one's JSON text in key_literal), in this order,
  // the optional ones skippable; none when there are no properties. Open: any keys, values of
  // node `values`.
  bool closed = false;
  int values = 0;
  struct Property {
    std::string key_literal;  // the key as JSON text, quotes included
    int schema = 0;
    bool required = true;
  };
  std::vector<Property> properties;
  // A tagged union of closed objects: once the first property's value is its literal i, the
  // object goes on as node variants[i] (whose first property is the same key). Empty: none.
  std::vector<int> variants;

  // Arrays: items of node `items`, between min_items and max_items (-1: no limit) of them.
  int items = 0;
  int min_items = 0;
  int max_items = -1;
};

// Node 0 is always "any JSON value"; the reply is the root node, which must accept objects
// only (the top level of a reply is an object, as with OpenAI).
struct JsonSchema {
  std::vector<JsonSchemaNode> nodes;
  int root = 1;

  // Appends other's nodes (its node 0, "any", becomes this one's) and returns the index of
  // other's root among them.
  int Append(const JsonSchema& other) {
    const int offset = static_cast<int>(nodes.size()) - 1;
    auto moved = [&](int i) { return i == 0 ? 0 : i + offset; };
    for (size_t i = 1; i < other.nodes.size(); ++i) {
      JsonSchemaNode n = other.nodes[i];
      n.values = moved(n.values);
      n.items = moved(n.items);
      for (auto& p : n.properties) p.schema = moved(p.schema);
      for (int& v : n.variants) v = moved(v);
      nodes.push_back(std::move(n));
    }
    return moved(other.root);
  }

  // Returns the schema of JSON mode: any object.
  static JsonSchema AnyObject() {
    JsonSchema s;
    s.nodes.resize(2);
    s.nodes[1].types = kJsonObject;
    return s;
  }
};

}  // namespace ts::sample
