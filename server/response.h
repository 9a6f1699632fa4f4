// Typed results -> OpenAI wire JSON (responses, stream chunks, logprobs, models) and
// SSE framing. Pure functions; shapes per openai-api.md.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/tools.h"

namespace ts::server {

struct ResponseMeta {
  std::string id;       // chatcmpl-... / cmpl-...
  int64_t created = 0;  // unix seconds
  std::string model;
  std::string system_fingerprint;
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;
};

struct ChoiceResult {
  int index = 0;
  std::string text;
  FinishReason finish = FinishReason::kNone;
  std::vector<GeneratedToken> tokens;  // with logprobs
  std::vector<ToolCall> tool_calls;    // chat with tools: text is then the content outside them
  bool finish_tool_calls = false;      // finish_reason "tool_calls" (a call by the model's choice)
};

// Token id -> its bytes (for top-logprob alternatives).
using PieceFn = std::function<std::string(int32_t)>;

// Returns "<prefix>-" + 24 random alphanumerics.
std::string NewResponseId(const std::string& prefix);

// "stop", "length"; kCancelled / kError map to "stop" (the stream was cut).
const char* WireFinishReason(FinishReason reason);

// Returns a token's bytes as a JSON array of numbers (OpenAI's logprobs `bytes`).
nlohmann::json BytesArray(const std::string& piece);

nlohmann::json UsageJson(const Usage& usage);

// Chat logprobs object {"content": [...]} for tokens.
nlohmann::json ChatLogprobs(const std::vector<GeneratedToken>& tokens, const PieceFn& piece);
// Legacy completions logprobs {tokens, token_logprobs, top_logprobs, text_offset};
// `text_offset0` is the offset of the first token within the choice's text.
nlohmann::json CompletionLogprobs(const std::vector<GeneratedToken>& tokens, const PieceFn& piece,
                                  size_t text_offset0);

// A message's "tool_calls"; in stream deltas each call also carries its "index".
nlohmann::json ToolCallsJson(const std::vector<ToolCall>& calls, bool stream);

nlohmann::json ChatCompletion(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                              const Usage& usage, bool logprobs, const PieceFn& piece);
nlohmann::json TextCompletion(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                              const Usage& usage, bool logprobs, const PieceFn& piece);

// One chat.completion.chunk with one choice. `delta` e.g. {"role":"assistant","content":""},
// {"content":"Hel"} or {}; finish empty = null; logprobs null unless given; with
// `usage_null` the chunk carries "usage": null (stream_options.include_usage).
nlohmann::json ChatChunk(const ResponseMeta& meta, int index, nlohmann::json delta,
                         const char* finish, nlohmann::json logprobs, bool usage_null);
// One text_completion chunk with one choice.
nlohmann::json CompletionChunk(const ResponseMeta& meta, int index, const std::string& text,
                               const char* finish, nlohmann::json logprobs, bool usage_null);
// The final usage chunk: "choices": [] and the usage object.
nlohmann::json UsageChunk(const ResponseMeta& meta, const char* object, const Usage& usage);

// {"object":"list","data":[model]} and one model object.
nlohmann::json ModelObject(const std::string& id, int64_t created, const std::string& owned_by);
nlohmann::json ModelList(const std::vector<nlohmann::json>& models);

// SSE: "data: <json>\n\n"; the terminator "data: [DONE]\n\n".
std::string SseEvent(const nlohmann::json& payload);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

}  // namespace ts::server
