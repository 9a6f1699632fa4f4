// Wire JSON -> typed requests. Pure functions: every check names the offending field
// in ApiError::param, as OpenAI does ("messages[1].content", "temperature", ...).
// Unknown fields are ignored.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/engine.h"
#include "engine/tokenizer/chat_template.h"
#include "server/tools.h"

namespace ts::server {

struct RequestLimits {
  int max_n = 8;            // choices per request
  int max_stop = 4;         // stop strings
  int max_top_logprobs = 20;
};

// Fields shared by chat and legacy completions.
struct GenerationParams {
  std::string model;                 // as requested ("" = not given)
  bool stream = false;
  bool include_usage = false;        // stream_options.include_usage
  int n = 1;
  int max_tokens = 0;                // 0 = not given (until the context is full)
  std::vector<std::string> stop;
  std::optional<uint64_t> seed;
  sample::SamplingParams sampling;   // temperature, top_p, penalties, logit_bias, top_k, ...
  bool logprobs = false;
  int top_logprobs = 0;
  bool ignore_eos = false;           // extension
  std::shared_ptr<const sample::JsonSchema>
      json_schema;           // response_format json_object / json_schema, or a tool call's
  std::string json_trigger;  // json_schema applies after this text (tool calls in auto mode)
};

struct ChatRequest {
  GenerationParams params;
  // Tool calls and results already rendered as text, the tools' description in the system
  // message when the reply may call them (server/tools.h).
  std::vector<tokenizer::ChatMessage> messages;
  ToolsRequest tools;
};

// A legacy prompt: text, or token ids as given.
using PromptInput = std::variant<std::string, std::vector<int32_t>>;

struct CompletionRequest {
  GenerationParams params;
  std::vector<PromptInput> prompts;  // one choice set per prompt
  bool echo = false;
};

// Returns the parsed body; throws ApiError 400 for malformed JSON or a non-object.
nlohmann::ordered_json ParseJsonBody(std::string_view body);

// Each throws ApiError 400 (invalid_request_error, param = the field).
// n_vocab bounds logit_bias keys and prompt token ids (0 = unchecked).
ChatRequest ParseChatRequest(const nlohmann::ordered_json& body, int n_vocab,
                             const RequestLimits& limits = {});
CompletionRequest ParseCompletionRequest(const nlohmann::ordered_json& body, int n_vocab,
                                         const RequestLimits& limits = {});

// Returns the engine request for choice `choice_index` of `params`: seeds go
// seed, seed+1, ... when a seed was given, else `random_seed + choice_index`.
GenerationRequest MakeGenerationRequest(const GenerationParams& params,
                                        std::vector<int32_t> prompt, int choice_index,
                                        uint64_t random_seed);

}  // namespace ts::server
