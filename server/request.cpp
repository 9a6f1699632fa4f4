// Validation follows OpenAI's documented ranges (openai-api.md); extensions (top_k, min_p,
// repetition_penalty, ignore_eos) follow llama-server's names.
#include "server/request.h"

#include <cmath>
#include <string>

#include "engine/tokenizer/unicode.h"
#include "server/api_error.h"
#include "server/json_schema_compiler.h"

namespace ts::server {
namespace {

using json = nlohmann::ordered_json;

constexpr int kCompletionDefaultMaxTokens = 16;

const json* Field(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;  // null means "not given"
  return &*it;
}

std::optional<double> GetNumber(const json& body, const char* name, double lo, double hi) {
  const json* v = Field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw BadRequest(std::string("'") + name + "' must be a number", name);
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) {
    throw BadRequest(std::string("'") + name + "' must be between " + json(lo).dump() + " and " +
                         json(hi).dump() + ", got " + v->dump(),
                     name);
  }
  return x;
}

std::optional<int64_t> GetInt(const json& body, const char* name, int64_t lo, int64_t hi) {
  const json* v = Field(body, name);
  if (!v) return std::nullopt;
  const std::string range = " between " + std::to_string(lo) + " and " + std::to_string(hi);
  // JSON has one number type: 5.0 is the integer 5 (as Python clients may send it); huge
  // integers arrive as unsigned or double and are out of range, not "not integers".
  const double as_double = v->is_number() ? v->get<double>() : 0.5;
  if (std::nearbyint(as_double) != as_double)
    throw BadRequest(std::string("'") + name + "' must be an integer" + range, name);
  bool fits = true;
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    fits = v->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
    if (fits) x = static_cast<int64_t>(v->get<uint64_t>());
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else {
    fits = as_double > -9.2e18 && as_double < 9.2e18;
    if (fits) x = static_cast<int64_t>(as_double);
  }
  if (!fits || x < lo || x > hi)
    throw BadRequest(std::string("'") + name + "' must be" + range + ", got " + v->dump(), name);
  return x;
}

std::optional<bool> GetBool(const json& body, const char* name) {
  const json* v = Field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw BadRequest(std::string("'") + name + "' must be a boolean", name);
  return v->get<bool>();
}

std::optional<std::string> GetString(const json& body, const char* name) {
  const json* v = Field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw BadRequest(std::string("'") + name + "' must be a string", name);
  return v->get<std::string>();
}

std::vector<std::string> ParseStop(const json& body, const RequestLimits& limits) {
  const json* v = Field(body, "stop");
  std::vector<std::string> stop;
  if (!v) return stop;
  if (v->is_string()) {
    if (!v->get_ref<const std::string&>().empty()) stop.push_back(v->get<std::string>());
    return stop;
  }
  if (!v->is_array()) throw BadRequest("'stop' must be a string or an array of strings", "stop");
  if (static_cast<int>(v->size()) > limits.max_stop) {
    throw BadRequest("'stop' may hold at most " + std::to_string(limits.max_stop) + " strings",
                     "stop");
  }
  for (const json& s : *v) {
    if (!s.is_string()) throw BadRequest("'stop' must be a string or an array of strings", "stop");
    if (!s.get_ref<const std::string&>().empty()) stop.push_back(s.get<std::string>());
  }
  return stop;
}

std::vector<std::pair<int32_t, float>> ParseLogitBias(const json& body, int n_vocab) {
  std::vector<std::pair<int32_t, float>> bias;
  const json* v = Field(body, "logit_bias");
  if (!v) return bias;
  if (!v->is_object()) throw BadRequest("'logit_bias' must be an object", "logit_bias");
  for (const auto& [key, value] : v->items()) {
    size_t used = 0;
    long id = -1;
    try {
      id = std::stol(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || key.empty() || id < 0 || (n_vocab > 0 && id >= n_vocab)) {
      throw BadRequest("'logit_bias' key '" + key + "' is not a token id of this model",
                       "logit_bias");
    }
    if (!value.is_number() || value.get<double>() < -100 || value.get<double>() > 100) {
      throw BadRequest("'logit_bias' values must be numbers between -100 and 100", "logit_bias");
    }
    bias.emplace_back(static_cast<int32_t>(id), value.get<float>());
  }
  return bias;
}

// Returns the schema a reply must fit: none for {"type": "text"}, any object for
// {"type": "json_object"}, the request's for {"type": "json_schema", "json_schema": {...}}.
std::shared_ptr<const sample::JsonSchema> ParseResponseFormat(const json& body) {
  const json* rf = Field(body, "response_format");
  if (rf == nullptr) return nullptr;
  if (!rf->is_object()) throw BadRequest("'response_format' must be an object", "response_format");
  const auto type = rf->find("type");
  if (type == rf->end() || !type->is_string()) {
    throw BadRequest("'response_format.type' is required and must be a string",
                     "response_format.type");
  }
  const std::string& name = type->get_ref<const std::string&>();
  if (name == "text") return nullptr;
  static const auto any_object =
      std::make_shared<const sample::JsonSchema>(sample::JsonSchema::AnyObject());
  if (name == "json_object") return any_object;
  if (name != "json_schema") {
    throw BadRequest(
        "'response_format.type' must be 'text', 'json_object' or 'json_schema', not '" + name + "'",
        "response_format.type");
  }
  const auto spec = rf->find("json_schema");
  if (spec == rf->end() || !spec->is_object()) {
    throw BadRequest("'response_format.json_schema' is required and must be an object",
                     "response_format.json_schema");
  }
  const auto schema_name = spec->find("name");
  if (schema_name == spec->end() || !schema_name->is_string()) {
    throw BadRequest("'response_format.json_schema.name' is required and must be a string",
                     "response_format.json_schema.name");
  }
  const auto schema = spec->find("schema");
  if (schema == spec->end() || schema->is_null()) return any_object;
  return CompileJsonSchema(*schema, "response_format.json_schema.schema");
}

// Fields both endpoints share. Logprobs differ (bool + top_logprobs vs an int) and are
// parsed by each caller.
GenerationParams ParseCommon(const json& body, int n_vocab, const RequestLimits& limits) {
  if (!body.is_object()) throw BadRequest("the request body must be a JSON object");
  GenerationParams p;
  p.model = GetString(body, "model").value_or("");
  p.stream = GetBool(body, "stream").value_or(false);
  if (const json* so = Field(body, "stream_options")) {
    if (!so->is_object()) throw BadRequest("'stream_options' must be an object", "stream_options");
    const auto it = so->find("include_usage");
    if (it != so->end() && !it->is_null()) {
      if (!it->is_boolean()) {
        throw BadRequest("'stream_options.include_usage' must be a boolean",
                         "stream_options.include_usage");
      }
      p.include_usage = it->get<bool>();
    }
  }
  p.n = static_cast<int>(GetInt(body, "n", 1, limits.max_n).value_or(1));
  const auto max_tokens = GetInt(body, "max_tokens", 1, INT32_MAX);
  const auto max_completion_tokens = GetInt(body, "max_completion_tokens", 1, INT32_MAX);
  p.max_tokens = static_cast<int>(max_completion_tokens.value_or(max_tokens.value_or(0)));
  p.stop = ParseStop(body, limits);
  if (const auto seed = GetInt(body, "seed", INT64_MIN, INT64_MAX)) {
    p.seed = static_cast<uint64_t>(*seed);
  }
  sample::SamplingParams& s = p.sampling;
  s.temperature = static_cast<float>(GetNumber(body, "temperature", 0, 2).value_or(1.0));
  s.top_p = static_cast<float>(GetNumber(body, "top_p", 0, 1).value_or(1.0));
  s.presence_penalty = static_cast<float>(GetNumber(body, "presence_penalty", -2, 2).value_or(0));
  s.frequency_penalty = static_cast<float>(GetNumber(body, "frequency_penalty", -2, 2).value_or(0));
  s.logit_bias = ParseLogitBias(body, n_vocab);
  s.top_k = static_cast<int>(GetInt(body, "top_k", 0, INT32_MAX).value_or(0));
  s.min_p = static_cast<float>(GetNumber(body, "min_p", 0, 1).value_or(0));
  s.repetition_penalty =
      static_cast<float>(GetNumber(body, "repetition_penalty", 0.01, 10).value_or(1.0));
  p.ignore_eos = GetBool(body, "ignore_eos").value_or(false);
  GetString(body, "user");  // accepted and ignored; type-checked like OpenAI
  p.json_schema = ParseResponseFormat(body);
  return p;
}

std::string ParseContent(const json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) {
    throw BadRequest("'" + where + "' must be a string or an array of text parts", where);
  }
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string part_where = where + "[" + std::to_string(j) + "]";
    if (!part.is_object()) throw BadRequest("'" + part_where + "' must be an object", part_where);
    const auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      throw BadRequest("'" + part_where + ".type' is required", part_where + ".type");
    }
    if (type->get_ref<const std::string&>() != "text") {
      throw BadRequest("content part type '" + type->get<std::string>() +
                           "' is not supported (text only)",
                       part_where + ".type");
    }
    const auto t = part.find("text");
    if (t == part.end() || !t->is_string()) {
      throw BadRequest("'" + part_where + ".text' must be a string", part_where + ".text");
    }
    text += t->get_ref<const std::string&>();
  }
  return text;
}

}  // namespace

json ParseJsonBody(std::string_view body) {
  // Deeper bodies are refused while parsing: some paths recurse over values (dump() in error
  // messages and schema enums), and a body of 200,000 nested arrays overflowed the stack.
  constexpr int kMaxDepth = 128;
  const json::parser_callback_t depth_limit = [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxDepth) {
      throw BadRequest("the request body is nested more than " + std::to_string(kMaxDepth) +
                       " levels deep");
    }
    return true;
  };
  json parsed = json::parse(body, depth_limit, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    if (const size_t bad = tokenizer::FirstInvalidUtf8(body); bad < body.size()) {
      throw BadRequest("the request body is not valid UTF-8 (byte " + std::to_string(bad) + ")");
    }
    throw BadRequest("the request body is not valid JSON");
  }
  if (!parsed.is_object()) throw BadRequest("the request body must be a JSON object");
  return parsed;
}

ChatRequest ParseChatRequest(const json& body, int n_vocab, const RequestLimits& limits) {
  ChatRequest req;
  req.params = ParseCommon(body, n_vocab, limits);
  GenerationParams& p = req.params;
  p.logprobs = GetBool(body, "logprobs").value_or(false);
  if (const auto top = GetInt(body, "top_logprobs", 0, limits.max_top_logprobs)) {
    if (!p.logprobs && *top > 0) {
      throw BadRequest("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
    }
    p.top_logprobs = static_cast<int>(*top);
  }

  const json* messages = Field(body, "messages");
  if (!messages) throw BadRequest("'messages' is required", "messages");
  if (!messages->is_array()) throw BadRequest("'messages' must be an array", "messages");
  if (messages->empty()) throw BadRequest("'messages' must not be empty", "messages");
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw BadRequest("'" + where + "' must be an object", where);
    const auto role = m.find("role");
    if (role == m.end() || role->is_null())
      throw BadRequest("'" + where + ".role' is required", where + ".role");
    if (!role->is_string())
      throw BadRequest("'" + where + ".role' must be a string", where + ".role");
    const std::string& r = role->get_ref<const std::string&>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool") {
      throw BadRequest("'" + where + ".role' must be one of system, developer, user, assistant, "
                           "tool; got '" + r + "'",
                       where + ".role");
    }
    const auto content = m.find("content");
    tokenizer::ChatMessage msg{r, {}};
    if (content == m.end() || content->is_null()) {
      if (r != "assistant") {
        throw BadRequest("'" + where + ".content' is required", where + ".content");
      }
    } else {
      msg.content = ParseContent(*content, where + ".content");
    }
    if (const json* calls = r == "assistant" ? Field(m, "tool_calls") : nullptr) {
      const std::string calls_text = ToolCallsText(*calls, where + ".tool_calls");
      msg.content += (msg.content.empty() || calls_text.empty() ? "" : "\n") + calls_text;
    }
    if (r == "tool") {
      if (const json* id = Field(m, "tool_call_id"); id && !id->is_string()) {
        throw BadRequest("'" + where + ".tool_call_id' must be a string", where + ".tool_call_id");
      }
      msg.content = ToolResultText(msg.content);
    }
    req.messages.push_back(std::move(msg));
  }

  req.tools = ParseTools(body);
  if (req.tools.active()) {
    if (p.logprobs) {
      throw BadRequest("'logprobs' together with 'tools' is not supported", "logprobs");
    }
    if (req.tools.forced_schema) {
      if (p.json_schema) {
        throw BadRequest("'response_format' cannot be combined with a forced 'tool_choice'",
                         "response_format");
      }
      p.json_schema = req.tools.forced_schema;
    } else if (req.tools.auto_call_schema && !p.json_schema) {
      p.json_schema = req.tools.auto_call_schema;  // once the reply opens a call
      p.json_trigger = kToolCallOpen;
    }
    // The tools' description goes into the system message (a new one when there is none).
    auto& msgs = req.messages;
    const bool has_system = msgs[0].role == "system" || msgs[0].role == "developer";
    if (!has_system) msgs.insert(msgs.begin(), tokenizer::ChatMessage{"system", {}});
    std::string& system = msgs[0].content;
    system += (system.empty() ? "" : "\n\n") + ToolsSystemText(req.tools);
  }
  return req;
}

CompletionRequest ParseCompletionRequest(const json& body, int n_vocab,
                                         const RequestLimits& limits) {
  CompletionRequest req;
  req.params = ParseCommon(body, n_vocab, limits);
  GenerationParams& p = req.params;
  // The legacy endpoint's documented default (OpenAI, vLLM); chat runs to EOS or the context.
  if (p.max_tokens == 0) p.max_tokens = kCompletionDefaultMaxTokens;
  if (const auto k = GetInt(body, "logprobs", 0, 5)) {
    p.logprobs = true;
    p.top_logprobs = static_cast<int>(*k);
  }
  req.echo = GetBool(body, "echo").value_or(false);
  if (req.echo && p.logprobs) {
    throw BadRequest("'echo' together with 'logprobs' is not supported", "echo");
  }
  if (const auto suffix = GetString(body, "suffix"); suffix && !suffix->empty()) {
    throw BadRequest("'suffix' (insertion) is not supported", "suffix");
  }
  if (const auto best_of = GetInt(body, "best_of", 1, limits.max_n); best_of && *best_of != p.n) {
    throw BadRequest("'best_of' other than n is not supported", "best_of");
  }

  const json* prompt = Field(body, "prompt");
  if (!prompt) throw BadRequest("'prompt' is required", "prompt");
  auto token_ids = [&](const json& arr) {
    std::vector<int32_t> ids;
    for (const json& t : arr) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
          (n_vocab > 0 && t.get<int64_t>() >= n_vocab)) {
        throw BadRequest("'prompt' token ids must be integers in [0, " +
                             std::to_string(n_vocab) + ")",
                         "prompt");
      }
      ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    if (ids.empty()) throw BadRequest("'prompt' must not be empty", "prompt");
    return ids;
  };
  constexpr size_t kMaxPrompts = 16;
  const char* shape_message =
      "'prompt' must be a string, an array of strings, an array of token ids or an array of "
      "token-id arrays";
  if (prompt->is_string()) {
    req.prompts.emplace_back(prompt->get<std::string>());
  } else if (prompt->is_array() && !prompt->empty()) {
    const json& first = (*prompt)[0];
    if (first.is_number_integer()) {
      req.prompts.emplace_back(token_ids(*prompt));
    } else {
      if (prompt->size() > kMaxPrompts) {
        throw BadRequest("'prompt' may hold at most " + std::to_string(kMaxPrompts) + " prompts",
                         "prompt");
      }
      for (const json& item : *prompt) {
        if (item.is_string() && first.is_string()) {
          req.prompts.emplace_back(item.get<std::string>());
        } else if (item.is_array() && first.is_array()) {
          req.prompts.emplace_back(token_ids(item));
        } else {
          throw BadRequest(shape_message, "prompt");
        }
      }
    }
  } else {
    throw BadRequest(prompt->is_array() ? "'prompt' must not be empty" : shape_message, "prompt");
  }
  return req;
}

GenerationRequest MakeGenerationRequest(const GenerationParams& params,
                                        std::vector<int32_t> prompt, int choice_index,
                                        uint64_t random_seed) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling = params.sampling;
  r.sampling.seed = params.seed.value_or(random_seed) + static_cast<uint64_t>(choice_index);
  r.sampling.n_top_logprobs = params.logprobs ? params.top_logprobs : 0;
  r.max_tokens = params.max_tokens;
  r.stop = params.stop;
  r.ignore_eos = params.ignore_eos;
  r.want_logprobs = params.logprobs;
  r.json_schema = params.json_schema;
  r.json_trigger = params.json_trigger;
  return r;
}

}  // namespace ts::server
