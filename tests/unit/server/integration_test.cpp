// The real engine on the fixture model (tiny-gpt2-tq2_0: GPT-2 vocabulary, random
// weights) behind the real HTTP server, in-process on an ephemeral loopback port.
// The model's text means nothing; these tests check the plumbing and the contracts.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "engine/engine.h"
#include "server/backend.h"
#include "server/http_server.h"

namespace ts::server {
namespace {

using nlohmann::json;

constexpr const char* kApiKey = "integration-key";
constexpr int kCtx = 512;  // room for a tools prompt

class ServerIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.api_key = kApiKey;
    o.model = std::string(TS_FIXTURES_DIR) + "/models/tiny-gpt2-tq2_0.gguf";
    o.ctx_size = kCtx;
    o.parallel = 4;
    o.threads = 2;
    o.kv_memory_bytes = 64ull << 20;
    server_ = new HttpServer(o);
    port_ = server_->Start();
    server_->SetBackend(MakeEngineBackend(std::make_unique<Engine>(ToEngineOptions(o)), ModelId(o)));
  }
  static void TearDownTestSuite() {
    server_->Shutdown(std::chrono::seconds(2));
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(120, 0);
    client_->set_default_headers({{"Authorization", std::string("Bearer ") + kApiKey}});
  }
  httplib::Result Post(const std::string& path, const json& body) {
    return client_->Post(path.c_str(), body.dump(), "application/json");
  }
  json PostOk(const std::string& path, const json& body) {
    auto r = Post(path, body);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }
  // Returns the data payloads of an SSE body (checks the framing).
  static std::vector<std::string> Events(const std::string& body) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < body.size()) {
      const size_t end = body.find("\n\n", pos);
      EXPECT_NE(end, std::string::npos);
      if (end == std::string::npos) break;
      const std::string e = body.substr(pos, end - pos);
      EXPECT_EQ(e.rfind("data: ", 0), 0u) << e;
      out.push_back(e.substr(6));
      pos = end + 2;
    }
    return out;
  }
  static Backend& backend() { return *server_->backend(); }

  static HttpServer* server_;
  static int port_;
  std::unique_ptr<httplib::Client> client_;
};

HttpServer* ServerIntegration::server_ = nullptr;
int ServerIntegration::port_ = 0;

json ChatBody(const std::string& content, int max_tokens) {
  return {{"model", "tiny-gpt2-tq2_0"},
          {"messages", {{{"role", "user"}, {"content", content}}}},
          {"max_tokens", max_tokens},
          {"temperature", 0}};
}

TEST_F(ServerIntegration, HealthAndModels) {
  auto r = client_->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const json models = json::parse(client_->Get("/v1/models")->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "tiny-gpt2-tq2_0");
}

TEST_F(ServerIntegration, ChatNonStreaming) {
  const json r = PostOk("/v1/chat/completions", ChatBody("Hello there", 8));
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["model"], "tiny-gpt2-tq2_0");
  EXPECT_TRUE(r["choices"][0]["message"]["content"].is_string());
  const std::string finish = r["choices"][0]["finish_reason"];
  EXPECT_TRUE(finish == "stop" || finish == "length") << finish;
  EXPECT_LE(r["usage"]["completion_tokens"].get<int>(), 8);
  EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(r["usage"]["total_tokens"].get<int>(),
            r["usage"]["prompt_tokens"].get<int>() + r["usage"]["completion_tokens"].get<int>());
}

TEST_F(ServerIntegration, CompletionsAndLogprobs) {
  json body = {{"prompt", "In the beginning"}, {"max_tokens", 6}, {"temperature", 0},
               {"logprobs", 2}, {"ignore_eos", true}};
  const json r = PostOk("/v1/completions", body);
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["completion_tokens"], 6);
  const json& lp = r["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"].size(), 6u);
  EXPECT_EQ(lp["token_logprobs"].size(), 6u);
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  // Token ids as the prompt work too.
  body["prompt"] = json::array({464, 3726});
  body.erase("logprobs");
  EXPECT_EQ(PostOk("/v1/completions", body)["choices"].size(), 1u);
}

TEST_F(ServerIntegration, StreamingFraming) {
  json body = ChatBody("Tell me", 10);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  body["ignore_eos"] = true;
  auto r = Post("/v1/chat/completions", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const auto events = Events(r->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  const json first = json::parse(events.front());
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (size_t i = 1; i + 2 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    EXPECT_TRUE(e["usage"].is_null());
    if (e["choices"][0]["delta"].contains("content")) text += e["choices"][0]["delta"]["content"];
  }
  const json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 10);
  // Same request without streaming gives the same text (greedy).
  body.erase("stream");
  body.erase("stream_options");
  EXPECT_EQ(PostOk("/v1/chat/completions", body)["choices"][0]["message"]["content"], text);
}

TEST_F(ServerIntegration, StopStrings) {
  json body = {{"prompt", "The"}, {"max_tokens", 24}, {"temperature", 0}, {"ignore_eos", true}};
  const std::string full = PostOk("/v1/completions", body)["choices"][0]["text"];
  ASSERT_GE(full.size(), 12u) << full;
  const std::string stop = full.substr(8, 3);
  body["stop"] = {stop};
  const json r = PostOk("/v1/completions", body);
  EXPECT_EQ(r["choices"][0]["text"], full.substr(0, full.find(stop)));
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
}

TEST_F(ServerIntegration, NAndSeeds) {
  json body = ChatBody("Once upon a time", 12);
  body["temperature"] = 1.0;
  body["n"] = 3;
  body["seed"] = 1234;
  body["ignore_eos"] = true;
  const json a = PostOk("/v1/chat/completions", body);
  const json b = PostOk("/v1/chat/completions", body);
  ASSERT_EQ(a["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a["choices"][i]["index"], i);
    EXPECT_EQ(a["choices"][i]["message"]["content"], b["choices"][i]["message"]["content"]);
  }
  EXPECT_EQ(a["usage"]["completion_tokens"], 36);
  // Choice i uses seed + i: a single request with seed + 1 reproduces choice 1.
  body["n"] = 1;
  body["seed"] = 1235;
  EXPECT_EQ(PostOk("/v1/chat/completions", body)["choices"][0]["message"]["content"],
            a["choices"][1]["message"]["content"]);
}

// The fixture model is random, so JSON mode has to overrule it at every step; "}" is pushed up
// so the object closes within the token limit.
TEST_F(ServerIntegration, JsonModeReturnsAnObject) {
  json body = ChatBody("Reply in JSON", 40);
  body["response_format"] = {{"type", "json_object"}};
  body["logit_bias"] = {{"92", 30}};  // "}" in the GPT-2 vocabulary
  const json r = PostOk("/v1/chat/completions", body);
  const std::string content = r["choices"][0]["message"]["content"];
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(json::parse(content).is_object()) << content;

  body["stream"] = true;  // the streamed deltas add up to the same object
  auto s = Post("/v1/chat/completions", body);
  ASSERT_TRUE(s);
  std::string streamed;
  for (const std::string& e : Events(s->body)) {
    if (e == "[DONE]") break;
    const json chunk = json::parse(e);
    const json& delta = chunk["choices"][0]["delta"];
    if (delta.contains("content")) streamed += delta["content"].get<std::string>();
  }
  EXPECT_EQ(streamed, content);
}

// Structured Outputs: the reply fits the schema even though the model is random.
TEST_F(ServerIntegration, JsonSchemaReturnsAFittingObject) {
  const json schema = {
      {"type", "object"},
      {"properties", {{"ok", {{"type", "boolean"}}}, {"level", {{"enum", {"low", "high"}}}}}},
      {"required", {"ok", "level"}},
      {"additionalProperties", false}};
  json body = ChatBody("Answer in JSON", 120);
  body["logit_bias"] = {{"198", -100}};  // no "\n": at most one space between tokens
  body["response_format"] = {
      {"type", "json_schema"},
      {"json_schema", {{"name", "answer"}, {"strict", true}, {"schema", schema}}}};
  const json r = PostOk("/v1/chat/completions", body);
  const std::string content = r["choices"][0]["message"]["content"];
  ASSERT_EQ(r["choices"][0]["finish_reason"], "stop") << content;
  const json reply = json::parse(content);
  ASSERT_EQ(reply.size(), 2u) << content;
  EXPECT_TRUE(reply["ok"].is_boolean()) << content;
  EXPECT_TRUE(reply["level"] == "low" || reply["level"] == "high") << content;

  body["response_format"]["json_schema"]["schema"]["properties"]["level"] = {{"type", "string"},
                                                                             {"pattern", "^x"}};
  auto bad = Post("/v1/chat/completions", body);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["error"]["param"], "response_format.json_schema.schema");
  EXPECT_NE(json::parse(bad->body)["error"]["message"].get<std::string>().find("pattern"),
            std::string::npos);
}

// Function calling: a forced call's arguments fit the tool's schema even though the model is
// random; the call's result goes back in a tool message.
TEST_F(ServerIntegration, ForcedToolCallsFitTheSchema) {
  const json weather = {
      {"type", "function"},
      {"function",
       {{"name", "get_weather"},
        {"parameters",
         {{"type", "object"},
          {"properties",
           {{"unit", {{"enum", {"celsius", "fahrenheit"}}}}, {"alerts", {{"type", "boolean"}}}}},
          {"required", {"unit", "alerts"}},
          {"additionalProperties", false}}}}}};
  json body = ChatBody("Weather?", 48);
  body["logit_bias"] = {{"198", -100}};  // no "\n": at most one space between tokens
  body["tools"] = {weather};
  body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  const json r = PostOk("/v1/chat/completions", body);
  const json& choice = r["choices"][0];
  ASSERT_EQ(choice["finish_reason"], "stop") << choice;  // OpenAI's answer to a named call
  EXPECT_TRUE(choice["message"]["content"].is_null());
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u);
  const json& call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["function"]["name"], "get_weather");
  const json args = json::parse(call["function"]["arguments"].get<std::string>());
  ASSERT_EQ(args.size(), 2u) << args;
  EXPECT_TRUE(args["unit"] == "celsius" || args["unit"] == "fahrenheit") << args;
  EXPECT_TRUE(args["alerts"].is_boolean()) << args;

  // Streamed: the deltas' arguments add up to an object of the same shape.
  body["stream"] = true;
  auto s = Post("/v1/chat/completions", body);
  ASSERT_TRUE(s);
  std::string streamed_args;
  for (const std::string& e : Events(s->body)) {
    if (e == "[DONE]") break;
    const json delta = json::parse(e)["choices"][0]["delta"];
    if (delta.contains("tool_calls"))
      streamed_args += delta["tool_calls"][0]["function"]["arguments"].get<std::string>();
  }
  EXPECT_EQ(json::parse(streamed_args).size(), 2u) << streamed_args;

  // "required" with one tool: the same call, finished as "tool_calls".
  body["stream"] = false;
  body["tool_choice"] = "required";
  const json required = PostOk("/v1/chat/completions", body);
  ASSERT_EQ(required["choices"][0]["finish_reason"], "tool_calls") << required;
  EXPECT_EQ(required["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_weather");

  // "required" with two tools: the arguments fit the schema of the tool the name picked.
  const json zone = {{"type", "function"},
                     {"function",
                      {{"name", "get_time"},
                       {"parameters",
                        {{"type", "object"},
                         {"properties", {{"zone", {{"enum", {"UTC", "CET"}}}}}},
                         {"required", {"zone"}},
                         {"additionalProperties", false}}}}}};
  body["tools"] = {weather, zone};
  body["max_tokens"] = 60;
  for (int seed = 0; seed < 3; ++seed) {
    body["temperature"] = 1;
    body["seed"] = seed;
    const json two = PostOk("/v1/chat/completions", body);
    ASSERT_EQ(two["choices"][0]["finish_reason"], "tool_calls") << two;
    const json& picked = two["choices"][0]["message"]["tool_calls"][0]["function"];
    const json picked_args = json::parse(picked["arguments"].get<std::string>());
    if (picked["name"] == "get_time") {
      EXPECT_TRUE(picked_args == json({{"zone", "UTC"}}) || picked_args == json({{"zone", "CET"}}))
          << picked_args;
    } else {
      ASSERT_EQ(picked["name"], "get_weather");
      EXPECT_EQ(picked_args.size(), 2u) << picked_args;
    }
  }

  // The conversation goes on with the call and its result (tools not shown).
  json next = ChatBody("Weather?", 4);
  next["tools"] = {weather};
  next["tool_choice"] = "none";
  next["messages"].push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {call}}});
  next["messages"].push_back({{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "18C"}});
  const json more = PostOk("/v1/chat/completions", next);
  EXPECT_GT(
      more["usage"]["prompt_tokens"].get<int>(),
      PostOk("/v1/chat/completions", ChatBody("Weather?", 4))["usage"]["prompt_tokens"].get<int>() +
          20);
}

TEST_F(ServerIntegration, TokenizeAndDetokenize) {
  // llama-server's shape: "content", no BOS unless asked.
  const json t = PostOk("/tokenize", {{"content", "Hello world"}});
  ASSERT_TRUE(t["tokens"].is_array());
  EXPECT_EQ(t["count"], t["tokens"].size());
  EXPECT_EQ(t["max_model_len"], kCtx);
  EXPECT_EQ(t["tokens"], json::array({15496, 995}));  // GPT-2 ids of "Hello", " world"
  const json back = PostOk("/detokenize", {{"tokens", t["tokens"]}});
  EXPECT_EQ(back["content"], "Hello world");
  EXPECT_EQ(back["prompt"], "Hello world");  // vLLM's name for it

  // vLLM's shape, under /v1 too, and pieces.
  EXPECT_EQ(
      PostOk("/v1/tokenize", {{"model", "tiny-gpt2-tq2_0"}, {"prompt", "Hello world"}})["count"],
      2);
  const json pieces = PostOk("/tokenize", {{"content", "Hello world"}, {"with_pieces", true}});
  EXPECT_EQ(pieces["tokens"][1], json({{"id", 995}, {"piece", " world"}}));

  // The chat form counts the prompt the model will see: the template around the message.
  const json chat =
      PostOk("/tokenize", {{"messages", {{{"role", "user"}, {"content", "Hello world"}}}}});
  EXPECT_GT(chat["count"].get<int>(), 2);

  for (const auto& [path, body, param] : std::vector<std::tuple<std::string, json, std::string>>{
           {"/tokenize", json::object(), "prompt"},
           {"/tokenize", {{"content", 5}}, "content"},
           {"/tokenize", {{"content", "x"}, {"add_special", "yes"}}, "add_special"},
           {"/tokenize", {{"messages", "hi"}}, "messages"},
           {"/tokenize",
            {{"messages", {{{"role", "user"}, {"content", "x"}}}},
             {"add_generation_prompt", false}},
            "add_generation_prompt"},
           {"/detokenize", {{"tokens", {1, -1}}}, "tokens"},
           {"/detokenize", {{"tokens", {50257}}}, "tokens"},
           {"/detokenize", {{"tokens", "1 2"}}, "tokens"}}) {
    auto r = Post(path, body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << path << " " << body.dump();
    EXPECT_EQ(json::parse(r->body)["error"]["param"], param) << path << " " << body.dump();
  }
  auto other_model = Post("/tokenize", {{"model", "gpt-4"}, {"content", "x"}});
  ASSERT_TRUE(other_model);
  EXPECT_EQ(other_model->status, 404);
}

// A schema enum holding a value nested 200,000 levels deep crashed the server (stack overflow
// while compiling it); the body is now refused while being parsed, and the server lives on.
TEST_F(ServerIntegration, DeeplyNestedBodiesAreRefused) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const std::string body =
      R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema",)"
      R"("json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"enum":[)" +
      deep + "]}}}}}}";
  auto r = client_->Post("/v1/chat/completions", body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(client_->Get("/health"));
}

TEST_F(ServerIntegration, Errors) {
  auto r = client_->Post("/v1/chat/completions", "{oops", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = Post("/v1/chat/completions", {{"model", "m"}});
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "messages");
  r = Post("/v1/chat/completions", ChatBody("x", -3));
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "max_tokens");
  std::string long_text;
  for (int i = 0; i < kCtx; ++i) long_text += " hello";
  r = Post("/v1/completions", {{"prompt", long_text}, {"max_tokens", 4}});
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "context_length_exceeded");
  httplib::Client anonymous("127.0.0.1", port_);
  r = anonymous.Post("/v1/chat/completions", {{"Authorization", "Bearer nope"}},
                     ChatBody("x", 2).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_api_key");
}

TEST_F(ServerIntegration, DisconnectFreesKvBlocks) {
  json body = ChatBody("Keep going", 200);
  body["stream"] = true;
  body["ignore_eos"] = true;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.set_header("Authorization", std::string("Bearer ") + kApiKey);
  int pieces = 0;
  bool saw_blocks = false;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    if (backend().Stats().kv_blocks_used > 0) saw_blocks = true;
    return ++pieces < 4;
  };
  httplib::Client c("127.0.0.1", port_);
  EXPECT_FALSE(c.send(req));
  EXPECT_TRUE(saw_blocks);
  EngineStats s;
  for (int i = 0; i < 300; ++i) {
    s = backend().Stats();
    if (s.kv_blocks_used == 0 && s.running == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(s.kv_blocks_used, 0u);
  EXPECT_EQ(s.running, 0);
  const std::string metrics = client_->Get("/metrics")->body;
  EXPECT_NE(metrics.find("ternserve_kv_blocks_used 0\n"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("ternserve_client_disconnects_total 0\n"), std::string::npos);
}

}  // namespace
}  // namespace ts::server
