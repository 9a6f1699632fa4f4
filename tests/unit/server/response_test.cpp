#include "server/response.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace ts::server {
namespace {

using nlohmann::json;

const ResponseMeta kMeta{"chatcmpl-abc", 1700000000, "m", "fp"};
std::string PieceOf(int32_t id) {
  std::string piece(1, '<');  // built by appends: GCC 12 warns (-Wrestrict) on "<" + s + ">"
  piece.append(std::to_string(id)).push_back('>');
  return piece;
}

TEST(Response, Ids) {
  const std::string id = NewResponseId("chatcmpl");
  EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(id.size(), 9u + 24u);
  EXPECT_NE(id, NewResponseId("chatcmpl"));
}

TEST(Response, ChatCompletionShape) {
  ChoiceResult c{0, "Hello", FinishReason::kLength, {}, {}, false};
  const json r = ChatCompletion(kMeta, {c}, {5, 2, 0}, false, PieceOf);
  EXPECT_EQ(r["id"], "chatcmpl-abc");
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["created"], 1700000000);
  EXPECT_EQ(r["model"], "m");
  EXPECT_EQ(r["system_fingerprint"], "fp");
  EXPECT_EQ(r["choices"][0]["index"], 0);
  EXPECT_EQ(r["choices"][0]["message"], json({{"role", "assistant"}, {"content", "Hello"}}));
  EXPECT_TRUE(r["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(r["usage"]["completion_tokens"], 2);
  EXPECT_EQ(r["usage"]["total_tokens"], 7);
}

TEST(Response, ChatLogprobs) {
  GeneratedToken t{42, "Hi", -0.25f, {{42, -0.25f}, {7, -2.0f}}};
  const json lp = ChatLogprobs({t}, PieceOf);
  ASSERT_EQ(lp["content"].size(), 1u);
  const json& e = lp["content"][0];
  EXPECT_EQ(e["token"], "Hi");
  EXPECT_FLOAT_EQ(e["logprob"].get<float>(), -0.25f);
  EXPECT_EQ(e["bytes"], json({72, 105}));
  EXPECT_EQ(e["top_logprobs"][1]["token"], "<7>");
  EXPECT_EQ(e["top_logprobs"][1]["bytes"].size(), 3u);
}

TEST(Response, CompletionLegacyLogprobs) {
  GeneratedToken a{1, "ab", -0.5f, {{1, -0.5f}, {2, -1.0f}}};
  GeneratedToken b{2, "c", -1.0f, {}};
  const json lp = CompletionLogprobs({a, b}, PieceOf, 10);
  EXPECT_EQ(lp["tokens"], json({"ab", "c"}));
  EXPECT_EQ(lp["token_logprobs"].size(), 2u);
  EXPECT_EQ(lp["text_offset"], json({10, 12}));
  EXPECT_TRUE(lp["top_logprobs"][0].contains("<2>"));
  ChoiceResult c{1, "abc", FinishReason::kStop, {a, b}, {}, false};
  const json r = TextCompletion({"cmpl-x", 1, "m", "fp"}, {c}, {1, 2, 0}, true, PieceOf);
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["choices"][0]["text"], "abc");
  EXPECT_EQ(r["choices"][0]["index"], 1);
  EXPECT_EQ(r["choices"][0]["logprobs"]["text_offset"], json({0, 2}));
}

TEST(Response, ChatChunks) {
  const json first = ChatChunk(kMeta, 0, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr, false);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(first.contains("usage"));
  const json last = ChatChunk(kMeta, 2, json::object(), "stop", nullptr, true);
  EXPECT_EQ(last["choices"][0]["index"], 2);
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(last.contains("usage"));
  EXPECT_TRUE(last["usage"].is_null());
  const json usage = UsageChunk(kMeta, "chat.completion.chunk", {3, 4, 1});
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 7);
  EXPECT_EQ(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
  const json text = CompletionChunk(kMeta, 0, "x", nullptr, nullptr, false);
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["choices"][0]["text"], "x");
}

TEST(Response, SseFraming) {
  EXPECT_EQ(SseEvent(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(std::string(kSseDone), "data: [DONE]\n\n");
  // A newline inside content is escaped by JSON, so one event stays one line.
  EXPECT_EQ(SseEvent(json{{"t", "a\nb"}}), "data: {\"t\":\"a\\nb\"}\n\n");
}

TEST(Response, InvalidUtf8NeverThrows) {
  const std::string broken = "\xE2\x82";  // a cut euro sign
  EXPECT_NO_THROW(SseEvent(json{{"t", broken}}));
  EXPECT_EQ(DumpJson(json(broken)), "\"\xEF\xBF\xBD\"");
}

TEST(Response, Models) {
  const json list = ModelList({ModelObject("m", 5, "ternserve")});
  EXPECT_EQ(list["object"], "list");
  EXPECT_EQ(list["data"][0], json({{"id", "m"}, {"object", "model"}, {"created", 5}, {"owned_by", "ternserve"}}));
}

TEST(ApiErrors, Shapes) {
  const json body = ErrorBody(ApiError(400, "bad", "temperature"));
  EXPECT_EQ(body["error"]["message"], "bad");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["param"], "temperature");
  EXPECT_TRUE(body["error"]["code"].is_null());
  const ApiError queue = ToApiError(std::make_exception_ptr(QueueFullError("full")));
  EXPECT_EQ(queue.status, 503);
  EXPECT_GT(queue.retry_after_s, 0);
  const ApiError invalid = ToApiError(
      std::make_exception_ptr(InvalidRequestError("too long", "messages", "context_length_exceeded")));
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.param, "messages");
  EXPECT_EQ(invalid.code, "context_length_exceeded");
  EXPECT_EQ(ToApiError(std::make_exception_ptr(std::runtime_error("x"))).status, 500);
  EXPECT_EQ(ApiError(401, "k").type, "authentication_error");
}

}  // namespace
}  // namespace ts::server
