// `response_format: {"type": "json_schema", ...}` (OpenAI's Structured Outputs): the request's
// JSON Schema compiled into the engine's schema language (engine/sample/json_schema.h).
//
// Supported: type (one or several), enum, const, properties + required (keys then come in the
// declared order, the optional ones skippable; no other keys), additionalProperties (false, or
// the schema of a map's values), items, minItems, maxItems,
// anyOf / oneOf of alternatives with different types, $ref to "#", "#/$defs/..." or
// "#/definitions/..." (recursion included). Annotations are ignored (title, description,
// default, examples, format, ...). Assertions this server does not enforce
// (pattern, minLength, minimum, allOf, not, ...) are refused with a 400 rather than ignored, so
// a reply never silently breaks the schema.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/sample/json_schema.h"

namespace ts::server {

// Returns the compiled schema; its root must be an object schema. Throws ApiError (400) naming
// `param` and the offending keyword's path when the schema is invalid or unsupported.
std::shared_ptr<const sample::JsonSchema> CompileJsonSchema(const nlohmann::ordered_json& schema,
                                                            const std::string& param);

}  // namespace ts::server
