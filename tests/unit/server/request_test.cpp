#include "server/request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace ts::server {
namespace {

using nlohmann::json;

json Chat(json extra = json::object()) {
  json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.update(extra);
  return body;
}

// Returns the ApiError's param (and checks it is a 400).
std::string ChatErrorParam(const json& body) {
  try {
    ParseChatRequest(body, 1000);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400) << e.what();
    EXPECT_EQ(e.type, "invalid_request_error");
    return e.param.empty() ? "<null>" : e.param;
  }
  ADD_FAILURE() << "no error for " << body.dump();
  return "";
}

std::string CompletionErrorParam(const json& body) {
  try {
    ParseCompletionRequest(body, 1000);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400) << e.what();
    return e.param.empty() ? "<null>" : e.param;
  }
  ADD_FAILURE() << "no error for " << body.dump();
  return "";
}

TEST(ParseJsonBody, RefusesDeepNestingBeforeAnythingRecursesOverIt) {
  const auto nested = [](int depth) {
    return R"({"a":)" + std::string(static_cast<size_t>(depth), '[') +
           std::string(static_cast<size_t>(depth), ']') + "}";
  };
  EXPECT_NO_THROW(ParseJsonBody(nested(127)));
  try {
    ParseJsonBody(nested(200000));
    FAIL() << "200000 levels accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_NE(std::string(e.what()).find("nested more than 128 levels"), std::string::npos);
  }
}

TEST(ParseJsonBody, RejectsMalformedAndNonObjects) {
  EXPECT_THROW(ParseJsonBody("{"), ApiError);
  EXPECT_THROW(ParseJsonBody("[1]"), ApiError);
  EXPECT_THROW(ParseJsonBody(""), ApiError);
  EXPECT_EQ(ParseJsonBody(R"({"a":1})")["a"], 1);
  try {
    ParseJsonBody("{\"a\":\"\xff\"}");
    FAIL() << "invalid UTF-8 accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(std::string(e.what()), "the request body is not valid UTF-8 (byte 6)");
  }
}

TEST(ParseChat, Defaults) {
  const ChatRequest r = ParseChatRequest(Chat(), 1000);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, "user");
  EXPECT_EQ(r.messages[0].content, "hi");
  EXPECT_FALSE(r.params.stream);
  EXPECT_EQ(r.params.n, 1);
  EXPECT_EQ(r.params.max_tokens, 0);
  EXPECT_FLOAT_EQ(r.params.sampling.temperature, 1.0f);
  EXPECT_FALSE(r.params.seed.has_value());
}

TEST(ParseChat, AllFields) {
  const ChatRequest r = ParseChatRequest(
      Chat({{"stream", true},
            {"stream_options", {{"include_usage", true}}},
            {"max_tokens", 10},
            {"max_completion_tokens", 12},
            {"temperature", 0},
            {"top_p", 0.5},
            {"n", 3},
            {"stop", {"a", "b"}},
            {"seed", 42},
            {"presence_penalty", 1.5},
            {"frequency_penalty", -1},
            {"logit_bias", {{"5", -100}, {"7", 3.5}}},
            {"logprobs", true},
            {"top_logprobs", 4},
            {"user", "u"},
            {"top_k", 40},
            {"min_p", 0.05},
            {"repetition_penalty", 1.1},
            {"some_future_field", {1, 2}}}),
      1000);
  const GenerationParams& p = r.params;
  EXPECT_TRUE(p.stream);
  EXPECT_TRUE(p.include_usage);
  EXPECT_EQ(p.max_tokens, 12);  // the newer name wins
  EXPECT_FLOAT_EQ(p.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(p.sampling.top_p, 0.5f);
  EXPECT_EQ(p.n, 3);
  EXPECT_EQ(p.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.seed, 42u);
  EXPECT_FLOAT_EQ(p.sampling.presence_penalty, 1.5f);
  EXPECT_FLOAT_EQ(p.sampling.frequency_penalty, -1.0f);
  ASSERT_EQ(p.sampling.logit_bias.size(), 2u);
  EXPECT_TRUE(p.logprobs);
  EXPECT_EQ(p.top_logprobs, 4);
  EXPECT_EQ(p.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(p.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(p.sampling.repetition_penalty, 1.1f);
}

TEST(ParseChat, ResponseFormat) {
  EXPECT_EQ(ParseChatRequest(Chat(), 1000).params.json_schema, nullptr);
  EXPECT_EQ(
      ParseChatRequest(Chat({{"response_format", {{"type", "text"}}}}), 1000).params.json_schema,
      nullptr);
  const ChatRequest r =
      ParseChatRequest(Chat({{"response_format", {{"type", "json_object"}}}}), 1000);
  ASSERT_NE(r.params.json_schema, nullptr);
  EXPECT_EQ(MakeGenerationRequest(r.params, {1, 2}, 0, 0).json_schema, r.params.json_schema);
  const json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}};
  const ChatRequest s = ParseChatRequest(
      Chat({{"response_format",
             {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", schema}}}}}}),
      1000);
  ASSERT_NE(s.params.json_schema, nullptr);
  EXPECT_EQ(s.params.json_schema->nodes[static_cast<size_t>(s.params.json_schema->root)]
                .properties.size(),
            1u);
}

TEST(ParseChat, ContentParts) {
  const ChatRequest r = ParseChatRequest(
      Chat({{"messages",
             {{{"role", "system"}, {"content", "s"}},
              {{"role", "user"},
               {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}},
              {{"role", "assistant"}, {"content", nullptr}}}}}),
      1000);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.messages[2].content, "");
}

TEST(ParseChat, ErrorsNameTheField) {
  EXPECT_EQ(ChatErrorParam({{"model", "m"}}), "messages");
  EXPECT_EQ(ChatErrorParam(Chat({{"messages", "hi"}})), "messages");
  EXPECT_EQ(ChatErrorParam(Chat({{"messages", json::array()}})), "messages");
  EXPECT_EQ(ChatErrorParam(Chat({{"messages", {{{"content", "x"}}}}})), "messages[0].role");
  EXPECT_EQ(ChatErrorParam(Chat({{"messages", {{{"role", "wizard"}, {"content", "x"}}}}})),
            "messages[0].role");
  EXPECT_EQ(ChatErrorParam(Chat({{"messages", {{{"role", "user"}}}}})), "messages[0].content");
  EXPECT_EQ(ChatErrorParam(Chat({{"messages", {{{"role", "user"}, {"content", 5}}}}})),
            "messages[0].content");
  EXPECT_EQ(ChatErrorParam(Chat({{"messages",
                                  {{{"role", "user"},
                                    {"content", {{{"type", "image_url"}, {"image_url", "x"}}}}}}}})),
            "messages[0].content[0].type");
  EXPECT_EQ(ChatErrorParam(Chat({{"max_tokens", -1}})), "max_tokens");
  EXPECT_EQ(ChatErrorParam(Chat({{"max_tokens", 0}})), "max_tokens");
  EXPECT_EQ(ChatErrorParam(Chat({{"max_tokens", "5"}})), "max_tokens");
  EXPECT_EQ(ChatErrorParam(Chat({{"max_completion_tokens", 1.5}})), "max_completion_tokens");
  EXPECT_EQ(ChatErrorParam(Chat({{"temperature", 2.5}})), "temperature");
  EXPECT_EQ(ChatErrorParam(Chat({{"temperature", "hot"}})), "temperature");
  EXPECT_EQ(ChatErrorParam(Chat({{"top_p", 1.1}})), "top_p");
  EXPECT_EQ(ChatErrorParam(Chat({{"n", 0}})), "n");
  EXPECT_EQ(ChatErrorParam(Chat({{"n", 9}})), "n");
  EXPECT_EQ(ChatErrorParam(Chat({{"stop", {"a", "b", "c", "d", "e"}}})), "stop");
  EXPECT_EQ(ChatErrorParam(Chat({{"stop", 3}})), "stop");
  EXPECT_EQ(ChatErrorParam(Chat({{"seed", "x"}})), "seed");
  EXPECT_EQ(ChatErrorParam(Chat({{"presence_penalty", -3}})), "presence_penalty");
  EXPECT_EQ(ChatErrorParam(Chat({{"frequency_penalty", 2.01}})), "frequency_penalty");
  EXPECT_EQ(ChatErrorParam(Chat({{"logit_bias", {{"abc", 1}}}})), "logit_bias");
  EXPECT_EQ(ChatErrorParam(Chat({{"logit_bias", {{"5000", 1}}}})), "logit_bias");  // >= n_vocab
  EXPECT_EQ(ChatErrorParam(Chat({{"logit_bias", {{"5", 101}}}})), "logit_bias");
  EXPECT_EQ(ChatErrorParam(Chat({{"logprobs", 1}})), "logprobs");
  EXPECT_EQ(ChatErrorParam(Chat({{"top_logprobs", 3}})), "top_logprobs");  // needs logprobs
  EXPECT_EQ(ChatErrorParam(Chat({{"logprobs", true}, {"top_logprobs", 21}})), "top_logprobs");
  EXPECT_EQ(ChatErrorParam(Chat({{"stream", "yes"}})), "stream");
  EXPECT_EQ(ChatErrorParam(Chat({{"stream_options", {{"include_usage", 1}}}})),
            "stream_options.include_usage");
  EXPECT_EQ(ChatErrorParam(Chat({{"user", 5}})), "user");
  EXPECT_EQ(ChatErrorParam(Chat({{"tools", {{{"type", "function"}}}}})), "tools[0].function");
  EXPECT_EQ(ChatErrorParam(Chat({{"response_format", "json"}})), "response_format");
  EXPECT_EQ(ChatErrorParam(Chat({{"response_format", json::object()}})), "response_format.type");
  EXPECT_EQ(ChatErrorParam(Chat({{"response_format", {{"type", "yaml"}}}})),
            "response_format.type");
  EXPECT_EQ(ChatErrorParam(Chat({{"response_format", {{"type", "json_schema"}}}})),
            "response_format.json_schema");
  EXPECT_EQ(ChatErrorParam(
                Chat({{"response_format",
                       {{"type", "json_schema"}, {"json_schema", {{"schema", json::object()}}}}}})),
            "response_format.json_schema.name");
  EXPECT_EQ(ChatErrorParam(
                Chat({{"response_format",
                       {{"type", "json_schema"},
                        {"json_schema", {{"name", "x"}, {"schema", {{"type", "string"}}}}}}}})),
            "response_format.json_schema.schema");
  EXPECT_EQ(ChatErrorParam(Chat({{"model", 5}})), "model");
  EXPECT_EQ(ChatErrorParam(Chat({{"tool_choice", "required"}})), "tool_choice");
  EXPECT_EQ(ChatErrorParam(
                Chat({{"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}})),
            "tool_choice");
  EXPECT_EQ(ChatErrorParam(Chat({{"functions", {{{"name", "f"}}}}})), "functions");
  EXPECT_EQ(ChatErrorParam(Chat({{"function_call", {{"name", "f"}}}})), "function_call");
  EXPECT_EQ(ChatErrorParam(Chat({{"messages", {{{"role", 1}, {"content", "x"}}}}})),
            "messages[0].role");
}

TEST(ParseChat, MessagesSayWhatIsWrong) {
  auto message = [](const json& body) {
    try {
      ParseChatRequest(body, 1000);
    } catch (const ApiError& e) {
      return std::string(e.what());
    }
    return std::string("<accepted>");
  };
  EXPECT_EQ(message(Chat({{"messages", {{{"role", 1}, {"content", "x"}}}}})),
            "'messages[0].role' must be a string");
  EXPECT_EQ(message(Chat({{"temperature", 2.5}})),
            "'temperature' must be between 0.0 and 2.0, got 2.5");
  // An integer too large for any integer type is out of range, not "not an integer".
  const std::string seed = message(Chat({{"seed", json::parse("18446744073709551616")}}));
  EXPECT_NE(seed.find("must be between"), std::string::npos) << seed;
  EXPECT_NE(seed.find("got 1.8446744073709552e+19"), std::string::npos) << seed;
  const std::string huge = message(Chat({{"max_tokens", json::parse("9223372036854775808")}}));
  EXPECT_NE(huge.find("got 9223372036854775808"), std::string::npos) << huge;  // echoed as sent
}

TEST(ParseChat, IntegralNumbersAndHarmlessToolFields) {
  // 5.0 is the integer 5 in JSON; tool_choice "none"/"auto" and empty tool lists ask for nothing.
  const ChatRequest r = ParseChatRequest(Chat({{"max_tokens", 5.0},
                                               {"tool_choice", "none"},
                                               {"tools", json::array()},
                                               {"functions", json::array()}}),
                                         1000);
  EXPECT_EQ(r.params.max_tokens, 5);
  EXPECT_EQ(ParseChatRequest(Chat({{"tool_choice", "auto"}}), 1000).params.max_tokens, 0);
}

TEST(ParseChat, NullMeansNotGiven) {
  const ChatRequest r = ParseChatRequest(
      Chat({{"temperature", nullptr}, {"stop", nullptr}, {"max_tokens", nullptr}}), 1000);
  EXPECT_FLOAT_EQ(r.params.sampling.temperature, 1.0f);
  EXPECT_TRUE(r.params.stop.empty());
}

TEST(ParseCompletion, PromptShapes) {
  auto prompts = [](const json& prompt) {
    return ParseCompletionRequest({{"prompt", prompt}}, 1000).prompts;
  };
  EXPECT_EQ(std::get<std::string>(prompts("hello")[0]), "hello");
  EXPECT_EQ(prompts(json::array({"a", "b"})).size(), 2u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(prompts({1, 2, 3})[0]), (std::vector<int32_t>{1, 2, 3}));
  const auto nested = prompts({{1, 2}, {3}});
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(nested[1]), std::vector<int32_t>{3});
}

TEST(ParseCompletion, Errors) {
  EXPECT_EQ(CompletionErrorParam(json::object()), "prompt");
  EXPECT_EQ(CompletionErrorParam({{"prompt", 5}}), "prompt");
  EXPECT_EQ(CompletionErrorParam({{"prompt", json::array()}}), "prompt");
  EXPECT_EQ(CompletionErrorParam({{"prompt", {"a", 1}}}), "prompt");
  EXPECT_EQ(CompletionErrorParam({{"prompt", {1, -2}}}), "prompt");
  EXPECT_EQ(CompletionErrorParam({{"prompt", {1, 1000}}}), "prompt");  // outside the vocabulary
  EXPECT_EQ(CompletionErrorParam({{"prompt", "x"}, {"logprobs", 6}}), "logprobs");
  EXPECT_EQ(CompletionErrorParam({{"prompt", "x"}, {"logprobs", true}}), "logprobs");
  EXPECT_EQ(CompletionErrorParam({{"prompt", "x"}, {"suffix", "tail"}}), "suffix");
  EXPECT_EQ(CompletionErrorParam({{"prompt", "x"}, {"echo", true}, {"logprobs", 1}}), "echo");
  EXPECT_EQ(CompletionErrorParam({{"prompt", "x"}, {"best_of", 3}}), "best_of");
}

TEST(ParseCompletion, MaxTokensDefaultsTo16LikeOpenAI) {
  EXPECT_EQ(ParseCompletionRequest({{"prompt", "x"}}, 1000).params.max_tokens, 16);
  EXPECT_EQ(ParseCompletionRequest({{"prompt", "x"}, {"max_tokens", 100}}, 1000).params.max_tokens,
            100);
}

TEST(ParseCompletion, LegacyLogprobs) {
  const auto r = ParseCompletionRequest({{"prompt", "x"}, {"logprobs", 3}, {"echo", false}}, 1000);
  EXPECT_TRUE(r.params.logprobs);
  EXPECT_EQ(r.params.top_logprobs, 3);
}

TEST(MakeGenerationRequest, SeedsPerChoice) {
  GenerationParams p;
  p.seed = 10;
  p.max_tokens = 5;
  p.stop = {"x"};
  p.logprobs = true;
  p.top_logprobs = 2;
  const auto r0 = MakeGenerationRequest(p, {1, 2}, 0, 999);
  const auto r2 = MakeGenerationRequest(p, {1, 2}, 2, 999);
  EXPECT_EQ(r0.sampling.seed, 10u);
  EXPECT_EQ(r2.sampling.seed, 12u);
  EXPECT_EQ(r0.max_tokens, 5);
  EXPECT_EQ(r0.stop, p.stop);
  EXPECT_TRUE(r0.want_logprobs);
  EXPECT_EQ(r0.sampling.n_top_logprobs, 2);
  p.seed.reset();
  EXPECT_EQ(MakeGenerationRequest(p, {1}, 1, 999).sampling.seed, 1000u);
}

}  // namespace
}  // namespace ts::server
