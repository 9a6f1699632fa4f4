// Function calling (`tools`, `tool_choice`) for chat completions, in the Hermes format that
// ChatML-family models are trained on: the tools are described in the system prompt inside
// <tools></tools>, a call is a JSON object {"name", "arguments"} inside <tool_call></tool_call>,
// and a tool's result goes back as <tool_response></tool_response>.
//
// tool_choice "none": the tools are not shown and the reply is text. "auto": the model decides;
// a call's JSON is held to the tools' schemas once the reply opens one, and calls are found in
// the reply (streamed content stops where a call starts). "required" and a
// named function force a call: the assistant turn starts with the call's opening and the rest
// is constrained to JSON that fits (for a named function, its `parameters` schema; for
// "required", {"name": one of the tools, "arguments": that tool's parameters}).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sample/json_schema.h"

namespace ts::server {

enum class ToolChoice { kNone, kAuto, kRequired, kNamed };

struct ToolFunction {
  std::string name;
  std::string description;
  nlohmann::ordered_json parameters;  // a JSON Schema; null when not given
};

struct ToolsRequest {
  std::vector<ToolFunction> functions;
  ToolChoice choice = ToolChoice::kNone;
  std::string named;           // kNamed: the function's name
  bool parallel_calls = true;  // parallel_tool_calls
  // kRequired / kNamed: the schema the constrained part of the reply must fit.
  std::shared_ptr<const sample::JsonSchema> forced_schema;
  // kAuto: the schema of a call, {"name", "arguments"} (a tagged union over the tools), which a
  // call's JSON is held to once the reply opens one; null when a tool's parameters use keywords
  // the recognizer cannot enforce (the calls are then free text, checked only when parsed).
  std::shared_ptr<const sample::JsonSchema> auto_call_schema;

  // Returns true when the reply may hold tool calls.
  bool active() const { return choice != ToolChoice::kNone && !functions.empty(); }
};

// The tag that opens a call in a reply.
inline constexpr std::string_view kToolCallOpen = "<tool_call>";

struct ToolCall {
  std::string id;  // call_...
  std::string name;
  std::string arguments;  // JSON text of an object
};

// Parses `tools`, `tool_choice` and `parallel_tool_calls` of a chat request (legacy
// `functions` / `function_call` are refused). Throws ApiError 400 naming the field.
ToolsRequest ParseTools(const nlohmann::ordered_json& body);

// The prompt text: the system prompt's tool section, an assistant message's calls, a tool
// result. `tool_calls` is the message's field; throws ApiError 400 (param `where`) when it is
// not OpenAI's shape.
std::string ToolsSystemText(const ToolsRequest& tools);
std::string ToolCallsText(const nlohmann::ordered_json& tool_calls, const std::string& where);
std::string ToolResultText(const std::string& content);

// kRequired / kNamed: the text the assistant turn starts with (the reply continues it).
std::string ForcedCallPrefix(const ToolsRequest& tools);

struct ToolReply {
  std::string content;          // text outside the calls
  std::vector<ToolCall> calls;  // empty: a plain reply
};

// Splits a finished reply into content and calls. kNamed: the reply is the arguments;
// kRequired: it is one {"name", "arguments"} object; kAuto: calls are the <tool_call> blocks
// whose JSON names one of the tools (others stay content). Only the first call is kept when
// parallel calls are off.
ToolReply ExtractToolCalls(std::string_view reply, const ToolsRequest& tools);

// kAuto while streaming: returns how many leading bytes of `reply` are content for certain (up
// to where a call starts or might start).
size_t SafeContentPrefix(std::string_view reply);

// Returns a new call id: "call_" + 24 random alphanumerics.
std::string NewToolCallId();

}  // namespace ts::server
