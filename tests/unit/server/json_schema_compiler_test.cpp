// Structured Outputs: JSON Schemas compiled for the engine, and what the compiled schema lets a
// reply be (fed through the recognizer the token constraint uses).
#include "server/json_schema_compiler.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/sample/json_prefix.h"
#include "server/api_error.h"

namespace ts::server {
namespace {

using json = nlohmann::ordered_json;

std::shared_ptr<const sample::JsonSchema> Compile(const std::string& schema) {
  return CompileJsonSchema(json::parse(schema), "schema");
}

// Whether `text` is a complete reply the schema allows.
bool Fits(const std::shared_ptr<const sample::JsonSchema>& schema, const std::string& text) {
  sample::JsonPrefix prefix(schema);
  return prefix.Feed(text) && prefix.complete();
}

// Whether the recognizer accepts text as the start of a reply.
bool Starts(const std::shared_ptr<const sample::JsonSchema>& schema, const std::string& text) {
  return sample::JsonPrefix(schema).Feed(text);
}

std::string ErrorOf(const std::string& schema) {
  try {
    Compile(schema);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "schema");
    return e.what();
  }
  return "";
}

// The shape the openai SDKs send for a typical model class (zod / pydantic).
constexpr const char* kPerson = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "email": {"type": ["string", "null"], "format": "email"},
    "role": {"enum": ["admin", "user"]},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    "score": {"type": "number"},
    "active": {"type": "boolean"}
  },
  "required": ["name", "age", "email", "role", "tags", "score", "active"],
  "additionalProperties": false
})";

TEST(JsonSchemaCompiler, ObjectWithTypedProperties) {
  const auto s = Compile(kPerson);
  EXPECT_TRUE(Fits(
      s,
      R"({"name": "Ann", "age": 41, "email": null, "role": "admin", "tags": ["a"], "score": -1.5e3, "active": true})"));
  EXPECT_TRUE(Fits(
      s,
      R"({"name":"","age":0,"email":"a@b.c","role":"user","tags":[],"score":2,"active":false})"));
  // Keys in the declared order, none missing, none added.
  EXPECT_FALSE(Starts(s, R"({"age")"));
  EXPECT_FALSE(Starts(s, R"({"nam ")"));
  EXPECT_FALSE(Starts(s, R"({"name": "A"})"));
  EXPECT_FALSE(Starts(
      s,
      R"({"name": "A", "age": 1, "email": null, "role": "user", "tags": [], "score": 1, "active": true,)"));
  // Values of the declared types.
  EXPECT_FALSE(Starts(s, R"({"name": 5)"));
  EXPECT_FALSE(Starts(s, R"({"name": "A", "age": 1.5)"));
  EXPECT_FALSE(Starts(s, R"({"name": "A", "age": 1e3)"));
  EXPECT_FALSE(Starts(s, R"({"name": "A", "age": 1, "email": 3)"));
  EXPECT_FALSE(Starts(s, R"({"name": "A", "age": 1, "email": null, "role": "root")"));
  EXPECT_FALSE(Starts(
      s, R"({"name": "A", "age": 1, "email": null, "role": "user", "tags": ["a", "b", "c")"));
  EXPECT_FALSE(Starts(s, R"({"name": "A", "age": 1, "email": null, "role": "user", "tags": [1)"));
  EXPECT_FALSE(Starts(
      s,
      R"({"name": "A", "age": 1, "email": null, "role": "user", "tags": [], "score": 1, "active": null)"));
}

TEST(JsonSchemaCompiler, OptionalPropertiesMayBeLeftOut) {
  const auto s = Compile(
      R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"},
                               "c": {"type": "integer"}}, "required": ["c"]})");
  EXPECT_TRUE(Fits(s, R"({"a": 1, "b": 2, "c": 3})"));
  EXPECT_TRUE(Fits(s, R"({"b": 2, "c": 3})"));
  EXPECT_TRUE(Fits(s, R"({"c": 3})"));
  EXPECT_FALSE(Starts(s, R"({"b": 2, "a")"));  // declared order
  EXPECT_FALSE(Starts(s, R"({"a": 1})"));      // c is required
  EXPECT_TRUE(Fits(Compile(R"({"type": "object", "properties": {"a": {}}})"), "{}"));
}

TEST(JsonSchemaCompiler, EnumsConstsAndAnyOf) {
  const auto s = Compile(R"({"type": "object", "properties": {
      "n": {"enum": [1, 12, "x\"y", null]},
      "k": {"const": "fixed"},
      "v": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer"}}, {"type": "null"}]}
    }, "required": ["n", "k", "v"]})");
  EXPECT_TRUE(Fits(s, R"({"n": 12, "k": "fixed", "v": [1, 2]})"));
  EXPECT_TRUE(Fits(s, R"({"n": 1, "k": "fixed", "v": "s"})"));
  EXPECT_TRUE(Fits(s, R"({"n": "x\"y", "k": "fixed", "v": null})"));
  EXPECT_TRUE(Fits(s, R"({"n": null, "k": "fixed", "v": []})"));
  EXPECT_FALSE(Starts(s, R"({"n": 10)"));
  EXPECT_FALSE(Starts(s, R"({"n": 123)"));
  EXPECT_TRUE(Starts(s, R"({"n": 1, "k": "fixed")"));
  EXPECT_FALSE(Starts(s, R"({"n": 1, "k": "fixe")"));
  EXPECT_FALSE(Starts(s, R"({"n": 1, "k": "fixed", "v": 3)"));
  EXPECT_FALSE(Starts(s, R"({"n": 1, "k": "fixed", "v": [true)"));
}

TEST(JsonSchemaCompiler, RefsDefsAndRecursion) {
  const auto s = Compile(R"({
    "$defs": {"Node": {"type": "object", "properties": {"v": {"type": "integer"},
                       "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                       "required": ["v", "kids"]}},
    "type": "object", "properties": {"root": {"$ref": "#/$defs/Node"}}, "required": ["root"]})");
  EXPECT_TRUE(Fits(
      s,
      R"({"root": {"v": 1, "kids": [{"v": 2, "kids": []}, {"v": 3, "kids": [{"v": 4, "kids": []}]}]}})"));
  EXPECT_FALSE(Starts(s, R"({"root": {"v": 1, "kids": [{"v": "x")"));
  // A root that is itself a reference (zod-to-json-schema writes these).
  const auto r = Compile(R"({"$ref": "#/definitions/P", "definitions": {"P": {"type": "object",
                            "properties": {"x": {"type": "boolean"}}, "required": ["x"]}}})");
  EXPECT_TRUE(Fits(r, R"({"x": false})"));
  EXPECT_FALSE(Starts(r, R"({"y")"));
}

TEST(JsonSchemaCompiler, ARootAllowingMoreThanObjectsIsNarrowedToObjects) {
  EXPECT_TRUE(Fits(Compile("{}"), R"({"any": [1, {"thing": null}]})"));
  EXPECT_FALSE(Starts(Compile("{}"), "["));
  const auto s = Compile(R"({"type": ["object", "null"], "properties": {"a": {"type": "null"}}})");
  EXPECT_TRUE(Fits(s, R"({"a": null})"));
  EXPECT_FALSE(Starts(s, "n"));
}

TEST(JsonSchemaCompiler, MapsAndClosedEmptyObjects) {
  const auto map = Compile(R"({"type": "object", "additionalProperties": {"type": "integer"}})");
  EXPECT_TRUE(Fits(map, R"({"x": 1, "anything": -2})"));
  EXPECT_FALSE(Starts(map, R"({"x": "1")"));
  const auto empty =
      Compile(R"({"type": "object", "properties": {}, "additionalProperties": false})");
  EXPECT_TRUE(Fits(empty, "{}"));
  EXPECT_FALSE(Starts(empty, R"({")"));
  EXPECT_TRUE(Fits(Compile(R"({"type": "object"})"), R"({"free": [true]})"));
}

TEST(JsonSchemaCompiler, MinAndMaxItems) {
  const auto s = Compile(R"({"type": "object", "properties": {"a": {"type": "array", "minItems": 2,
                            "maxItems": 3}}, "required": ["a"]})");
  EXPECT_TRUE(Fits(s, R"({"a": [1, "x"]})"));
  EXPECT_TRUE(Fits(s, R"({"a": [1, 2, {}]})"));
  EXPECT_FALSE(Starts(s, R"({"a": []})"));
  EXPECT_FALSE(Starts(s, R"({"a": [1]})"));
  EXPECT_FALSE(Starts(s, R"({"a": [1, 2, 3, )"));
}

TEST(JsonSchemaCompiler, RefusesWhatItCannotEnforce) {
  EXPECT_NE(ErrorOf(R"({"type": "string"})").find("top level must be an object"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(R"({"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}})")
          .find("'pattern' is not supported"),
      std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}})")
                .find("properties.a"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(
          R"({"type": "object", "properties": {"a": {"anyOf": [{"type": "object"}, {"type": "object"}]}}})")
          .find("same type"),
      std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}})")
                .find("does not resolve"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type": "object", "properties": {"a": {"$ref": "http://x/s.json"}}})")
                .find("local"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type": "object", "properties": {"a": {"type": "decimal"}}})")
                .find("unknown 'type'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type": "object", "required": ["a"], "properties": {}})")
                .find("not in 'properties'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"$ref": "#"})").find("refers back to itself"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"enum": [{}]})").find("top level"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"$defs": {"N": {"anyOf": [{"$ref": "#/$defs/N"}, {"type": "null"}]}},
                        "type": "object", "properties": {"a": {"$ref": "#/$defs/N"}}})")
                .find("recursive"),
            std::string::npos);
  std::string deep = R"({"type": "integer"})";
  for (int i = 0; i < 40; ++i) deep = R"({"type": "object", "properties": {"a": )" + deep + "}}";
  EXPECT_NE(ErrorOf(deep).find("too deeply"), std::string::npos);
}

}  // namespace
}  // namespace ts::server
