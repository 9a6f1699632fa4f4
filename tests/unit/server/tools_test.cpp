#include "server/tools.h"

#include <gtest/gtest.h>

#include "engine/sample/json_prefix.h"
#include "fake_backend.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/request.h"

namespace ts::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

ordered_json Weather() {
  return {{"type", "function"},
          {"function",
           {{"name", "get_weather"},
            {"description", "Current weather in a city"},
            {"parameters",
             {{"type", "object"},
              {"properties", {{"city", {{"type", "string"}}}}},
              {"required", {"city"}},
              {"additionalProperties", false}}}}}};
}

ordered_json Time() {
  return {{"type", "function"}, {"function", {{"name", "get_time"}}}};
}

ordered_json Chat(ordered_json extra = ordered_json::object()) {
  ordered_json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.update(extra);
  return body;
}

std::string ErrorParam(const ordered_json& body) {
  try {
    ParseChatRequest(body, 1000);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400) << e.what();
    return e.param;
  }
  ADD_FAILURE() << "accepted " << body.dump();
  return "";
}

TEST(Tools, ParsesChoices) {
  const ToolsRequest none = ParseTools(Chat());
  EXPECT_FALSE(none.active());
  const ToolsRequest automatic = ParseTools(Chat({{"tools", {Weather(), Time()}}}));
  EXPECT_EQ(automatic.choice, ToolChoice::kAuto);  // the default when tools are given
  ASSERT_EQ(automatic.functions.size(), 2u);
  EXPECT_EQ(automatic.functions[0].description, "Current weather in a city");
  EXPECT_TRUE(automatic.functions[1].parameters.is_null());
  EXPECT_FALSE(automatic.forced_schema);
  EXPECT_FALSE(ParseTools(Chat({{"tools", {Weather()}}, {"tool_choice", "none"}})).active());

  const ToolsRequest named = ParseTools(
      Chat({{"tools", {Weather(), Time()}},
            {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_time"}}}}}}));
  EXPECT_EQ(named.choice, ToolChoice::kNamed);
  EXPECT_EQ(named.named, "get_time");
  EXPECT_TRUE(named.forced_schema);
  EXPECT_EQ(ForcedCallPrefix(named), "<tool_call>\n{\"name\": \"get_time\", \"arguments\": ");

  const ToolsRequest required = ParseTools(
      Chat({{"tools", {Weather()}}, {"tool_choice", "required"}, {"parallel_tool_calls", false}}));
  EXPECT_EQ(required.choice, ToolChoice::kRequired);
  EXPECT_FALSE(required.parallel_calls);
  EXPECT_EQ(ForcedCallPrefix(required), "<tool_call>\n");
}

TEST(Tools, RefusesWhatItCannotHonour) {
  EXPECT_EQ(ErrorParam(Chat({{"tools", "get_weather"}})), "tools");
  EXPECT_EQ(ErrorParam(Chat({{"tools", {{{"type", "code_interpreter"}}}}})), "tools[0].type");
  ordered_json bad_name = Weather();
  bad_name["function"]["name"] = "get weather";
  EXPECT_EQ(ErrorParam(Chat({{"tools", {bad_name}}})), "tools[0].function.name");
  EXPECT_EQ(ErrorParam(Chat({{"tools", {Weather(), Weather()}}})), "tools[1].function.name");
  ordered_json bad_parameters = Weather();
  bad_parameters["function"]["parameters"] = "city";
  EXPECT_EQ(ErrorParam(Chat({{"tools", {bad_parameters}}})), "tools[0].function.parameters");
  EXPECT_EQ(ErrorParam(Chat({{"tools", {Weather()}}, {"tool_choice", "always"}})), "tool_choice");
  EXPECT_EQ(
      ErrorParam(Chat({{"tools", {Weather()}},
                       {"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}})),
      "tool_choice.function.name");
  EXPECT_EQ(ErrorParam(Chat({{"tools", {Weather()}}, {"parallel_tool_calls", "yes"}})),
            "parallel_tool_calls");
  // A forced call is held to its schema, so a schema it cannot enforce is refused up front.
  ordered_json pattern = Weather();
  pattern["function"]["parameters"]["properties"]["city"]["pattern"] = "^[A-Z]";
  EXPECT_EQ(ErrorParam(Chat({{"tools", {Time(), pattern}}, {"tool_choice", "required"}})),
            "tools[1].function.parameters");
  EXPECT_NO_THROW(ParseChatRequest(Chat({{"tools", {Time(), pattern}}}), 1000));  // auto: not held
  EXPECT_EQ(ErrorParam(Chat({{"tools", {pattern}}, {"tool_choice", "required"}})),
            "tools[0].function.parameters");
  EXPECT_EQ(ErrorParam(Chat({{"tools", {pattern}}, {"logprobs", true}})), "logprobs");
  EXPECT_EQ(ErrorParam(Chat({{"tools", {Weather()}},
                             {"tool_choice", "required"},
                             {"response_format", {{"type", "json_object"}}}})),
            "response_format");
  EXPECT_EQ(
      ErrorParam(Chat(
          {{"messages",
            {{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {{{"id", "c"}}}}}}}})),
      "messages[0].tool_calls[0]");
}

TEST(Tools, RequiredHoldsTheArgumentsToTheNamedTool) {
  const ToolsRequest t =
      ParseTools(Chat({{"tools", {Weather(), Time()}}, {"tool_choice", "required"}}));
  ASSERT_TRUE(t.forced_schema);
  auto accepts = [&](const std::string& text) {
    sample::JsonPrefix p(t.forced_schema);
    return p.Feed(text) && p.complete();
  };
  EXPECT_TRUE(accepts(R"({"name": "get_weather", "arguments": {"city": "Oslo"}})"));
  EXPECT_TRUE(accepts(R"({"name": "get_time", "arguments": {}})"));
  EXPECT_TRUE(accepts(
      R"({"name": "get_time", "arguments": {"zone": "UTC"}})"));  // no parameters: any object
  EXPECT_FALSE(accepts(R"({"name": "get_weather", "arguments": {}})"));  // city is required
  EXPECT_FALSE(accepts(R"({"name": "get_weather", "arguments": {"city": 5}})"));
  EXPECT_FALSE(accepts(R"({"name": "launch", "arguments": {}})"));
}

TEST(Tools, AutoHoldsACallOnceTheReplyOpensOne) {
  const ChatRequest r = ParseChatRequest(Chat({{"tools", {Weather(), Time()}}}), 1000);
  ASSERT_TRUE(r.params.json_schema);
  EXPECT_EQ(r.params.json_trigger, "<tool_call>");
  EXPECT_EQ(MakeGenerationRequest(r.params, {1}, 0, 7).json_trigger, "<tool_call>");
  sample::JsonPrefix call(r.params.json_schema);
  EXPECT_TRUE(call.Feed("\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}"));
  EXPECT_TRUE(call.complete());
  // A schema the recognizer cannot enforce leaves auto calls free (no error); response_format
  // keeps the whole reply to itself.
  ordered_json pattern = Weather();
  pattern["function"]["parameters"]["properties"]["city"]["pattern"] = "^[A-Z]";
  const ChatRequest free_calls = ParseChatRequest(Chat({{"tools", {pattern}}}), 1000);
  EXPECT_FALSE(free_calls.params.json_schema);
  EXPECT_TRUE(free_calls.params.json_trigger.empty());
  const ChatRequest json_reply = ParseChatRequest(
      Chat({{"tools", {Weather()}}, {"response_format", {{"type", "json_object"}}}}), 1000);
  EXPECT_TRUE(json_reply.params.json_trigger.empty());
}

TEST(Tools, RendersToolsCallsAndResultsIntoThePrompt) {
  const ordered_json messages = {
      {{"role", "system"}, {"content", "Be brief."}},
      {{"role", "user"}, {"content", "Weather in Paris?"}},
      {{"role", "assistant"},
       {"content", nullptr},
       {"tool_calls",
        {{{"id", "call_1"},
          {"type", "function"},
          {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\"}"}}}}}}},
      {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18C, sunny"}}};
  const ChatRequest r =
      ParseChatRequest(Chat({{"messages", messages}, {"tools", {Weather()}}}), 1000);
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].content.rfind("Be brief.\n\n# Tools\n", 0), 0u) << r.messages[0].content;
  EXPECT_NE(r.messages[0].content.find("\"name\":\"get_weather\""), std::string::npos);
  EXPECT_EQ(
      r.messages[2].content,
      "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>");
  EXPECT_EQ(r.messages[3].content, "<tool_response>\n18C, sunny\n</tool_response>");

  // Without a system message one is added; with tool_choice "none" the tools are not shown.
  const ChatRequest added = ParseChatRequest(Chat({{"tools", {Weather()}}}), 1000);
  ASSERT_EQ(added.messages.size(), 2u);
  EXPECT_EQ(added.messages[0].role, "system");
  EXPECT_EQ(added.messages[0].content.rfind("# Tools", 0), 0u);
  EXPECT_EQ(ParseChatRequest(Chat({{"tools", {Weather()}}, {"tool_choice", "none"}}), 1000)
                .messages.size(),
            1u);
  // A forced call is constrained like Structured Outputs.
  const ChatRequest forced =
      ParseChatRequest(Chat({{"tools", {Weather()}}, {"tool_choice", "required"}}), 1000);
  EXPECT_TRUE(forced.params.json_schema);
}

TEST(Tools, ExtractsCallsFromAReply) {
  const ToolsRequest t = ParseTools(Chat({{"tools", {Weather(), Time()}}}));
  const ToolReply two = ExtractToolCalls(
      "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Oslo\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
      t);
  EXPECT_EQ(two.content, "Let me look.");
  ASSERT_EQ(two.calls.size(), 2u);
  EXPECT_EQ(two.calls[0].name, "get_weather");
  EXPECT_EQ(two.calls[0].arguments, "{\"city\":\"Oslo\"}");
  EXPECT_EQ(two.calls[0].id.rfind("call_", 0), 0u);
  EXPECT_EQ(two.calls[0].id.size(), 29u);
  EXPECT_NE(two.calls[0].id, two.calls[1].id);
  EXPECT_EQ(two.calls[1].arguments, "{}");

  // The turn may end right after the JSON; parallel calls off keeps the first.
  ToolsRequest single = t;
  single.parallel_calls = false;
  const ToolReply unclosed = ExtractToolCalls(
      "<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call><tool_call>{\"name\": "
      "\"get_time\", "
      "\"arguments\": {}}",
      single);
  EXPECT_EQ(unclosed.content, "");
  EXPECT_EQ(unclosed.calls.size(), 1u);

  // Anything that is not a call of one of the tools leaves the whole reply as content.
  for (const char* reply :
       {"No tools needed.", "<tool_call>{\"name\": \"launch\", \"arguments\": {}}</tool_call>",
        "<tool_call>{\"name\": \"get_time\", \"arguments\": \"now\"}</tool_call>",
        "<tool_call>{\"name\": \"get_time\""}) {
    const ToolReply r = ExtractToolCalls(reply, t);
    EXPECT_TRUE(r.calls.empty()) << reply;
    EXPECT_EQ(r.content, reply);
  }

  // Forced calls: the reply is the constrained JSON.
  ToolsRequest required = t;
  required.choice = ToolChoice::kRequired;
  const ToolReply forced =
      ExtractToolCalls("{\"name\": \"get_time\", \"arguments\": {}}", required);
  ASSERT_EQ(forced.calls.size(), 1u);
  EXPECT_EQ(forced.calls[0].name, "get_time");
  ToolsRequest named = t;
  named.choice = ToolChoice::kNamed;
  named.named = "get_weather";
  const ToolReply args = ExtractToolCalls("{\"city\": \"Rome\"}", named);
  ASSERT_EQ(args.calls.size(), 1u);
  EXPECT_EQ(args.calls[0].name, "get_weather");
  EXPECT_EQ(args.calls[0].arguments, "{\"city\": \"Rome\"}");
}

TEST(Tools, DeeplyNestedArgumentsAreNotRecursedOver) {
  // Arguments are JSON inside a string, past the body's depth check: 200,000 levels deep they
  // stay the client's string (an assistant message) or plain content (a reply), never dumped.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const ordered_json calls = {{{"id", "c"},
                               {"type", "function"},
                               {"function", {{"name", "get_time"}, {"arguments", deep}}}}};
  EXPECT_NE(ToolCallsText(calls, "tool_calls").find(deep.substr(0, 100)), std::string::npos);
  const ToolsRequest t = ParseTools(Chat({{"tools", {Time()}}}));
  const std::string reply =
      "<tool_call>{\"name\": \"get_time\", \"arguments\": {\"a\": " + deep + "}}";
  const ToolReply r = ExtractToolCalls(reply, t);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, reply);
}

TEST(Tools, SafeContentStopsWhereACallMayStart) {
  EXPECT_EQ(SafeContentPrefix("Hello"), 5u);
  EXPECT_EQ(SafeContentPrefix("Hello <tool"), 5u);  // maybe an opening tag, and the space
  EXPECT_EQ(SafeContentPrefix("Hello <b>"), 9u);    // not one
  EXPECT_EQ(SafeContentPrefix("Hi\n<tool_call>\n{"), 2u);
  EXPECT_EQ(SafeContentPrefix("a <"), 1u);
  EXPECT_EQ(SafeContentPrefix(""), 0u);
}

// The scripted backend's words, collected and streamed, with auto tool choice.
GenerationInput ChatWithTools(const ToolsRequest& tools, bool stream) {
  GenerationInput in;
  in.endpoint = Endpoint::kChat;
  in.meta = {"chatcmpl-test", 1, "fake-model", "fp"};
  in.params.stream = stream;
  in.prompts = {{1, 2, 3}};
  in.tools = std::make_shared<const ToolsRequest>(tools);
  return in;
}

// Streams `job` and returns each chunk's choice (the usage chunk and [DONE] left out).
std::vector<json> StreamedChoices(GenerationJob& job) {
  std::string body;
  EXPECT_TRUE(job.Stream(
      [&](const std::string& s) {
        body += s;
        return true;
      },
      nullptr));
  std::vector<json> choices;
  for (size_t pos = 0; (pos = body.find("data: {", pos)) != std::string::npos; ++pos) {
    const json chunk = json::parse(body.substr(pos + 6, body.find("\n\n", pos) - pos - 6));
    if (!chunk["choices"].empty()) choices.push_back(chunk["choices"][0]);
  }
  return choices;
}

const std::vector<std::string> kCallScript = {"Let",
                                              " me",
                                              " check",
                                              ".\n",
                                              "<tool",
                                              "_call>",
                                              "\n{\"name\": \"get_weather\", ",
                                              "\"arguments\": {\"city\": \"Paris\"}}",
                                              "\n</tool_call>"};

TEST(Tools, CollectedReplyCarriesToolCalls) {
  testing::FakeBackend backend(kCallScript);
  GenerationJob job(backend, ChatWithTools(ParseTools(Chat({{"tools", {Weather()}}})), false),
                    nullptr, nullptr, std::chrono::steady_clock::now());
  const auto body = job.Collect([] { return false; });
  ASSERT_TRUE(body);
  const json& choice = (*body)["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_EQ(choice["message"]["content"], "Let me check.");
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u);
  const json& call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()),
            json({{"city", "Paris"}}));
  EXPECT_FALSE(call.contains("index"));
}

TEST(Tools, StreamHoldsTheCallBackAndSendsItAsToolCalls) {
  testing::FakeBackend backend(kCallScript);
  GenerationJob job(backend, ChatWithTools(ParseTools(Chat({{"tools", {Weather()}}})), true),
                    nullptr, nullptr, std::chrono::steady_clock::now());
  std::string content;
  json calls = json::array();
  std::string finish;
  for (const json& choice : StreamedChoices(job)) {
    const json& delta = choice["delta"];
    if (delta.contains("content")) content += delta["content"].get<std::string>();
    if (delta.contains("tool_calls")) {
      for (const json& c : delta["tool_calls"]) calls.push_back(c);
    }
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(content, "Let me check.");  // no piece of the tag leaked
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["index"], 0);
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(calls[0]["function"]["arguments"].get<std::string>()),
            json({{"city", "Paris"}}));
  EXPECT_EQ(finish, "tool_calls");
}

TEST(Tools, StreamedNamedCallSendsArgumentsAsTheyCome) {
  testing::FakeBackend backend({"{\"city\"", ": \"Paris\"", "}"});
  ToolsRequest named = ParseTools(
      Chat({{"tools", {Weather()}},
            {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}}));
  GenerationJob job(backend, ChatWithTools(named, true), nullptr, nullptr,
                    std::chrono::steady_clock::now());
  const std::vector<json> deltas = StreamedChoices(job);
  ASSERT_EQ(deltas.size(), 5u);  // role, 3 argument pieces, finish
  const json& first = deltas[1]["delta"]["tool_calls"][0];
  EXPECT_EQ(first["function"]["name"], "get_weather");
  EXPECT_EQ(first["function"]["arguments"], "{\"city\"");
  EXPECT_EQ(first["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_FALSE(deltas[2]["delta"]["tool_calls"][0].contains("id"));
  EXPECT_EQ(deltas[3]["delta"]["tool_calls"][0]["function"]["arguments"], "}");
  EXPECT_EQ(deltas[4]["finish_reason"], "stop");  // OpenAI's answer to a named call
}

}  // namespace
}  // namespace ts::server
