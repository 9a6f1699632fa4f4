#include "server/tools.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "server/api_error.h"
#include "server/json_schema_compiler.h"
#include "server/response.h"

namespace ts::server {
namespace {

using nlohmann::ordered_json;

constexpr size_t kMaxTools = 128;
constexpr std::string_view kCallClose = "</tool_call>";

const ordered_json* Field(const ordered_json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// OpenAI's rule for function names: 1-64 of a-z, A-Z, 0-9, underscores and dashes.
bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
  });
}

ToolFunction ParseTool(const ordered_json& tool, const std::string& where) {
  if (!tool.is_object()) throw BadRequest(fmt::format("'{}' must be an object", where), where);
  const ordered_json* type = Field(tool, "type");
  if (!type || *type != "function") {
    throw BadRequest(fmt::format("'{}.type' must be \"function\"", where), where + ".type");
  }
  const ordered_json* function = Field(tool, "function");
  if (!function || !function->is_object()) {
    throw BadRequest(fmt::format("'{}.function' must be an object", where), where + ".function");
  }
  ToolFunction f;
  const ordered_json* name = Field(*function, "name");
  if (!name || !name->is_string() || !ValidName(name->get<std::string>())) {
    throw BadRequest(
        fmt::format("'{}.function.name' must be 1-64 letters, digits, '_' or '-'", where),
        where + ".function.name");
  }
  f.name = name->get<std::string>();
  if (const ordered_json* description = Field(*function, "description")) {
    if (!description->is_string()) {
      throw BadRequest(fmt::format("'{}.function.description' must be a string", where),
                       where + ".function.description");
    }
    f.description = description->get<std::string>();
  }
  if (const ordered_json* parameters = Field(*function, "parameters")) {
    if (!parameters->is_object()) {
      throw BadRequest(fmt::format("'{}.function.parameters' must be a JSON Schema object", where),
                       where + ".function.parameters");
    }
    f.parameters = *parameters;
  }
  if (const ordered_json* strict = Field(*function, "strict"); strict && !strict->is_boolean()) {
    throw BadRequest(fmt::format("'{}.function.strict' must be a boolean", where),
                     where + ".function.strict");
  }
  return f;
}

// Returns `text` parsed, or a discarded value when it is not JSON or nests deeper than request
// bodies may (dump() recurses: a call's arguments 200,000 levels deep would overflow the stack).
ordered_json ParseShallow(std::string_view text) {
  constexpr int kMaxDepth = 128;
  bool too_deep = false;
  const ordered_json::parser_callback_t depth_limit = [&](int depth, ordered_json::parse_event_t,
                                                          ordered_json&) {
    too_deep = too_deep || depth > kMaxDepth;
    return !too_deep;
  };
  ordered_json parsed = ordered_json::parse(text, depth_limit, /*allow_exceptions=*/false);
  return too_deep ? ordered_json(ordered_json::value_t::discarded) : parsed;
}

// Returns a function's parameters schema, "any object" when it has none.
ordered_json ParametersOrAnyObject(const ToolFunction& f) {
  return f.parameters.is_null() ? ordered_json{{"type", "object"}} : f.parameters;
}

// The schema a call's constrained text must fit (see tools.h): a named function's
// parameters, else the tagged union of all the tools' calls.
std::shared_ptr<const sample::JsonSchema> CallSchema(const ToolsRequest& t) {
  const auto param = [](size_t i) { return fmt::format("tools[{}].function.parameters", i); };
  if (t.choice == ToolChoice::kNamed) {
    for (size_t i = 0; i < t.functions.size(); ++i) {
      if (t.functions[i].name == t.named)
        return CompileJsonSchema(ParametersOrAnyObject(t.functions[i]), param(i));
    }
  }
  // "required": {"name": a tool, "arguments": that tool's arguments}, a tagged union whose
  // variants are the tools.
  auto call_schema = [](const ordered_json& name, const ordered_json& arguments) {
    return ordered_json{{"type", "object"},
                        {"properties", {{"name", name}, {"arguments", arguments}}},
                        {"required", {"name", "arguments"}},
                        {"additionalProperties", false}};
  };
  ordered_json names = ordered_json::array();
  for (const ToolFunction& f : t.functions) names.push_back(f.name);
  auto any_call = std::make_shared<sample::JsonSchema>(
      *CompileJsonSchema(call_schema({{"enum", names}}, {{"type", "object"}}), "tools"));
  std::vector<int> variants;
  for (size_t i = 0; i < t.functions.size(); ++i) {
    const ordered_json parameters = ParametersOrAnyObject(t.functions[i]);
    CompileJsonSchema(parameters, param(i));  // alone first, so a refusal names its own paths
    variants.push_back(any_call->Append(
        *CompileJsonSchema(call_schema({{"const", t.functions[i].name}}, parameters), param(i))));
  }
  any_call->nodes[static_cast<size_t>(any_call->root)].variants = std::move(variants);
  return any_call;
}

// Returns the call in `text` when it is {"name": one of the tools, "arguments": {...}}.
std::optional<ToolCall> ParseCall(std::string_view text, const ToolsRequest& t) {
  const ordered_json call = ParseShallow(text);
  if (!call.is_object()) return std::nullopt;
  const ordered_json* name = Field(call, "name");
  const ordered_json* arguments = Field(call, "arguments");
  if (!name || !name->is_string() || !arguments || !arguments->is_object()) return std::nullopt;
  const bool known = std::any_of(t.functions.begin(), t.functions.end(),
                                 [&](const ToolFunction& f) { return f.name == *name; });
  if (!known) return std::nullopt;
  return ToolCall{NewToolCallId(), name->get<std::string>(), arguments->dump()};
}

bool IsSpace(char ch) {
  return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

std::string_view TrimmedRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view Trimmed(std::string_view s) {
  s = TrimmedRight(s);
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

}  // namespace

ToolsRequest ParseTools(const ordered_json& body) {
  for (const char* legacy : {"functions", "function_call"}) {
    const ordered_json* v = Field(body, legacy);
    if (v && !(v->is_array() && v->empty()) && *v != "none" && *v != "auto") {
      throw BadRequest(
          fmt::format("'{}' (legacy function calling) is not supported: use 'tools'", legacy),
          legacy);
    }
  }
  ToolsRequest t;
  if (const ordered_json* tools = Field(body, "tools")) {
    if (!tools->is_array()) throw BadRequest("'tools' must be an array", "tools");
    if (tools->size() > kMaxTools) {
      throw BadRequest(fmt::format("'tools' holds more than {} tools", kMaxTools), "tools");
    }
    std::set<std::string> names;
    for (size_t i = 0; i < tools->size(); ++i) {
      const std::string where = fmt::format("tools[{}]", i);
      ToolFunction f = ParseTool((*tools)[i], where);
      if (!names.insert(f.name).second) {
        throw BadRequest(fmt::format("'{}.function.name': '{}' is given twice", where, f.name),
                         where + ".function.name");
      }
      t.functions.push_back(std::move(f));
    }
  }
  t.choice = t.functions.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
  if (const ordered_json* choice = Field(body, "tool_choice")) {
    if (*choice == "none") {
      t.choice = ToolChoice::kNone;
    } else if (*choice == "auto") {
      t.choice = t.functions.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
    } else if (*choice == "required") {
      t.choice = ToolChoice::kRequired;
    } else if (choice->is_object() && Field(*choice, "type") &&
               *Field(*choice, "type") == "function" && Field(*choice, "function") &&
               Field(*choice, "function")->is_object()) {
      const ordered_json* name = Field(*Field(*choice, "function"), "name");
      if (!name || !name->is_string()) {
        throw BadRequest("'tool_choice.function.name' must be a string",
                         "tool_choice.function.name");
      }
      if (t.functions.empty()) throw BadRequest("'tool_choice' requires 'tools'", "tool_choice");
      t.choice = ToolChoice::kNamed;
      t.named = name->get<std::string>();
      const bool known = std::any_of(t.functions.begin(), t.functions.end(),
                                     [&](const ToolFunction& f) { return f.name == t.named; });
      if (!known) {
        throw BadRequest(fmt::format("'tool_choice' names '{}', which is not in 'tools'", t.named),
                         "tool_choice.function.name");
      }
    } else {
      throw BadRequest(
          "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", "
          "\"function\": {\"name\": ...}}",
          "tool_choice");
    }
    if (t.choice != ToolChoice::kNone && t.functions.empty()) {
      throw BadRequest("'tool_choice' requires 'tools'", "tool_choice");
    }
  }
  if (const ordered_json* parallel = Field(body, "parallel_tool_calls")) {
    if (!parallel->is_boolean()) {
      throw BadRequest("'parallel_tool_calls' must be a boolean", "parallel_tool_calls");
    }
    t.parallel_calls = parallel->get<bool>();
  }
  if (t.choice == ToolChoice::kRequired || t.choice == ToolChoice::kNamed) {
    t.forced_schema = CallSchema(t);
  } else if (t.choice == ToolChoice::kAuto) {
    try {
      t.auto_call_schema = CallSchema(t);
    } catch (const ApiError&) {
      // Unenforceable keywords: the model may still call the tool, unconstrained.
    }
  }
  return t;
}

std::string ToolsSystemText(const ToolsRequest& tools) {
  std::string text =
      "# Tools\n\nYou may call functions to answer. Their signatures, one per line:\n<tools>\n";
  for (const ToolFunction& f : tools.functions) {
    ordered_json function = {{"name", f.name}};
    if (!f.description.empty()) function["description"] = f.description;
    function["parameters"] = ParametersOrAnyObject(f);
    text += ordered_json{{"type", "function"}, {"function", function}}.dump() + "\n";
  }
  text +=
      "</tools>\n\nTo call one, reply with its name and arguments within <tool_call></tool_call> "
      "tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
      "</tool_call>";
  return text;
}

std::string ToolCallsText(const ordered_json& tool_calls, const std::string& where) {
  if (!tool_calls.is_array()) throw BadRequest(fmt::format("'{}' must be an array", where), where);
  std::string text;
  for (size_t i = 0; i < tool_calls.size(); ++i) {
    const ordered_json& call = tool_calls[i];
    const std::string at = fmt::format("{}[{}]", where, i);
    const ordered_json* function = call.is_object() ? Field(call, "function") : nullptr;
    const ordered_json* name =
        function && function->is_object() ? Field(*function, "name") : nullptr;
    const ordered_json* arguments =
        function && function->is_object() ? Field(*function, "arguments") : nullptr;
    if (!name || !name->is_string() || !arguments || !arguments->is_string()) {
      throw BadRequest(fmt::format("'{}' must be {{\"id\", \"type\": \"function\", \"function\": "
                                   "{{\"name\": string, \"arguments\": string}}}}",
                                   at),
                       at);
    }
    // The arguments arrive as JSON text; the model saw them as an object.
    const ordered_json parsed = ParseShallow(arguments->get<std::string>());
    const ordered_json shown = parsed.is_discarded() ? *arguments : parsed;
    if (!text.empty()) text += "\n";
    text += fmt::format("{}\n{}\n{}", kToolCallOpen,
                        ordered_json{{"name", *name}, {"arguments", shown}}.dump(), kCallClose);
  }
  return text;
}

std::string ToolResultText(const std::string& content) {
  return fmt::format("<tool_response>\n{}\n</tool_response>", content);
}

std::string ForcedCallPrefix(const ToolsRequest& tools) {
  std::string prefix = fmt::format("{}\n", kToolCallOpen);
  if (tools.choice == ToolChoice::kNamed) {
    prefix +=
        fmt::format("{{\"name\": \"{}\", \"arguments\": ", tools.named);  // names need no escapes
  }
  return prefix;
}

ToolReply ExtractToolCalls(std::string_view reply, const ToolsRequest& tools) {
  ToolReply out;
  switch (tools.choice) {
    case ToolChoice::kNone:
      out.content = reply;
      return out;
    case ToolChoice::kNamed:
      out.calls.push_back({NewToolCallId(), tools.named, std::string(reply)});
      return out;
    case ToolChoice::kRequired:
      if (auto call = ParseCall(reply, tools)) {
        out.calls.push_back(std::move(*call));
      } else {
        out.content = reply;  // cut short by max_tokens
      }
      return out;
    case ToolChoice::kAuto:
      break;
  }
  // Every block from the first opening tag on must be a call; otherwise it is all content.
  const size_t first = reply.find(kToolCallOpen);
  if (first == std::string_view::npos) {
    out.content = reply;
    return out;
  }
  for (size_t at = first; at != std::string_view::npos;) {
    const size_t body = at + kToolCallOpen.size();
    const size_t close = reply.find(kCallClose, body);
    // A reply may end right after a call's JSON (end of turn before the closing tag).
    const std::string_view json =
        reply.substr(body, close == std::string_view::npos ? reply.size() - body : close - body);
    std::optional<ToolCall> call = ParseCall(Trimmed(json), tools);
    if (!call) {
      out.calls.clear();
      out.content = reply;
      return out;
    }
    out.calls.push_back(std::move(*call));
    if (close == std::string_view::npos) break;
    const std::string_view rest = Trimmed(reply.substr(close + kCallClose.size()));
    if (rest.empty()) break;
    if (rest.substr(0, kToolCallOpen.size()) != kToolCallOpen)
      break;  // trailing text after the calls is dropped
    at = reply.find(kToolCallOpen, close);
  }
  if (!tools.parallel_calls) out.calls.resize(1);
  out.content = TrimmedRight(reply.substr(0, first));
  return out;
}

size_t SafeContentPrefix(std::string_view reply) {
  const size_t open = reply.find(kToolCallOpen);
  std::string_view safe = open == std::string_view::npos ? reply : reply.substr(0, open);
  if (open == std::string_view::npos) {
    // Hold back a tail that may be the start of an opening tag.
    for (size_t n = std::min(kToolCallOpen.size() - 1, safe.size()); n > 0; --n) {
      if (safe.substr(safe.size() - n) == kToolCallOpen.substr(0, n)) {
        safe.remove_suffix(n);
        break;
      }
    }
  }
  // And trailing whitespace: before a call it is not part of the content.
  return TrimmedRight(safe).size();
}

std::string NewToolCallId() {
  std::string id = NewResponseId("call");
  id[4] = '_';  // OpenAI's ids read call_...
  return id;
}

}  // namespace ts::server
