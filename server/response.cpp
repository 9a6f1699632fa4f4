#include "server/response.h"

#include <random>

#include "server/api_error.h"

namespace ts::server {
namespace {

using nlohmann::json;

json FinishJson(const char* finish) { return finish ? json(finish) : json(nullptr); }

json Base(const ResponseMeta& meta, const char* object) {
  return {{"id", meta.id},
          {"object", object},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", meta.system_fingerprint}};
}

}  // namespace

json BytesArray(const std::string& piece) {
  json bytes = json::array();
  for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
  return bytes;
}

std::string NewResponseId(const std::string& prefix) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string id = prefix + "-";
  for (int i = 0; i < 24; ++i) id += kAlphabet[pick(rng)];
  return id;
}

const char* WireFinishReason(FinishReason reason) {
  return reason == FinishReason::kLength ? "length" : "stop";
}

json UsageJson(const Usage& usage) {
  json u = {{"prompt_tokens", usage.prompt_tokens},
            {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
  u["prompt_tokens_details"] = {{"cached_tokens", usage.cached_prompt_tokens}};
  return u;
}

json ChatLogprobs(const std::vector<GeneratedToken>& tokens, const PieceFn& piece) {
  json content = json::array();
  for (const GeneratedToken& t : tokens) {
    json top = json::array();
    for (const sample::TokenLogprob& alt : t.top) {
      const std::string alt_piece = piece(alt.id);
      top.push_back({{"token", alt_piece}, {"logprob", alt.logprob}, {"bytes", BytesArray(alt_piece)}});
    }
    content.push_back({{"token", t.piece},
                       {"logprob", t.logprob},
                       {"bytes", BytesArray(t.piece)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

json CompletionLogprobs(const std::vector<GeneratedToken>& tokens, const PieceFn& piece,
                        size_t text_offset0) {
  json pieces = json::array(), logprobs = json::array(), tops = json::array(),
       offsets = json::array();
  size_t offset = text_offset0;
  for (const GeneratedToken& t : tokens) {
    pieces.push_back(t.piece);
    logprobs.push_back(t.logprob);
    json top = json::object();
    for (const sample::TokenLogprob& alt : t.top) top[piece(alt.id)] = alt.logprob;
    tops.push_back(std::move(top));
    offsets.push_back(offset);
    offset += t.piece.size();
  }
  return {{"tokens", std::move(pieces)},
          {"token_logprobs", std::move(logprobs)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

json ToolCallsJson(const std::vector<ToolCall>& calls, bool stream) {
  json list = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call;
    if (stream) call["index"] = i;
    call["id"] = calls[i].id;
    call["type"] = "function";
    call["function"] = {{"name", calls[i].name}, {"arguments", calls[i].arguments}};
    list.push_back(std::move(call));
  }
  return list;
}

json ChatCompletion(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                    const Usage& usage, bool logprobs, const PieceFn& piece) {
  json out = Base(meta, "chat.completion");
  json list = json::array();
  for (const ChoiceResult& c : choices) {
    // OpenAI: content is null when the message only calls tools.
    json message = {
        {"role", "assistant"},
        {"content", c.text.empty() && !c.tool_calls.empty() ? json(nullptr) : json(c.text)}};
    if (!c.tool_calls.empty()) message["tool_calls"] = ToolCallsJson(c.tool_calls, false);
    list.push_back(
        {{"index", c.index},
         {"message", std::move(message)},
         {"logprobs", logprobs ? ChatLogprobs(c.tokens, piece) : json(nullptr)},
         {"finish_reason", c.finish_tool_calls ? "tool_calls" : WireFinishReason(c.finish)}});
  }
  out["choices"] = std::move(list);
  out["usage"] = UsageJson(usage);
  return out;
}

json TextCompletion(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                    const Usage& usage, bool logprobs, const PieceFn& piece) {
  json out = Base(meta, "text_completion");
  json list = json::array();
  for (const ChoiceResult& c : choices) {
    list.push_back({{"index", c.index},
                    {"text", c.text},
                    {"logprobs", logprobs ? CompletionLogprobs(c.tokens, piece, 0) : json(nullptr)},
                    {"finish_reason", WireFinishReason(c.finish)}});
  }
  out["choices"] = std::move(list);
  out["usage"] = UsageJson(usage);
  return out;
}

json ChatChunk(const ResponseMeta& meta, int index, json delta, const char* finish, json logprobs,
               bool usage_null) {
  json out = Base(meta, "chat.completion.chunk");
  out["choices"] = json::array({{{"index", index},
                                 {"delta", std::move(delta)},
                                 {"logprobs", std::move(logprobs)},
                                 {"finish_reason", FinishJson(finish)}}});
  if (usage_null) out["usage"] = nullptr;
  return out;
}

json CompletionChunk(const ResponseMeta& meta, int index, const std::string& text,
                     const char* finish, json logprobs, bool usage_null) {
  json out = Base(meta, "text_completion");
  out["choices"] = json::array({{{"index", index},
                                 {"text", text},
                                 {"logprobs", std::move(logprobs)},
                                 {"finish_reason", FinishJson(finish)}}});
  if (usage_null) out["usage"] = nullptr;
  return out;
}

json UsageChunk(const ResponseMeta& meta, const char* object, const Usage& usage) {
  json out = Base(meta, object);
  out["choices"] = json::array();
  out["usage"] = UsageJson(usage);
  return out;
}

json ModelObject(const std::string& id, int64_t created, const std::string& owned_by) {
  return {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", owned_by}};
}

json ModelList(const std::vector<json>& models) {
  return {{"object", "list"}, {"data", models}};
}

std::string SseEvent(const json& payload) { return "data: " + DumpJson(payload) + "\n\n"; }

}  // namespace ts::server
