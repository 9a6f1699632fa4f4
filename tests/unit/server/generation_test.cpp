#include "server/generation.h"

#include <gtest/gtest.h>

#include "fake_backend.h"
#include "server/api_error.h"

namespace ts::server {
namespace {

using nlohmann::json;
using testing::FakeBackend;

GenerationInput Input(Endpoint endpoint, int n = 1, bool stream = false) {
  GenerationInput in;
  in.endpoint = endpoint;
  in.meta = {"chatcmpl-test", 1, "fake-model", "fp"};
  in.params.n = n;
  in.params.stream = stream;
  in.params.seed = 7;
  in.prompts = {{1, 2, 3}};
  return in;
}

// Splits an SSE body into its data payloads, checking the framing on the way.
std::vector<std::string> Events(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event";
    if (end == std::string::npos) break;
    const std::string event = body.substr(pos, end - pos);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    EXPECT_EQ(event.find('\n'), std::string::npos) << event;
    out.push_back(event.substr(6));
    pos = end + 2;
  }
  return out;
}

TEST(GenerationJob, CollectChat) {
  FakeBackend backend({"Hel", "lo"});
  InFlightRegistry registry;
  Metrics metrics;
  GenerationJob job(backend, Input(Endpoint::kChat, 2), &metrics, &registry,
                    std::chrono::steady_clock::now());
  EXPECT_EQ(registry.size(), 2u);
  const auto body = job.Collect([] { return false; });
  ASSERT_TRUE(body);
  const json& r = *body;
  ASSERT_EQ(r["choices"].size(), 2u);
  EXPECT_EQ(r["choices"][1]["index"], 1);
  EXPECT_EQ(r["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r["usage"]["prompt_tokens"], 3);       // once, not per choice
  EXPECT_EQ(r["usage"]["completion_tokens"], 4);   // both choices
  EXPECT_EQ(registry.size(), 0u);
  ASSERT_EQ(backend.submitted.size(), 2u);
  EXPECT_EQ(backend.submitted[0].sampling.seed, 7u);
  EXPECT_EQ(backend.submitted[1].sampling.seed, 8u);
}

TEST(GenerationJob, StreamChatFraming) {
  FakeBackend backend({"Hel", "lo"});
  backend.finish = FinishReason::kLength;
  GenerationInput in = Input(Endpoint::kChat, 1, true);
  in.params.include_usage = true;
  GenerationJob job(backend, std::move(in), nullptr, nullptr, std::chrono::steady_clock::now());
  std::string body;
  ASSERT_TRUE(job.Stream([&](const std::string& s) { body += s; return true; }, nullptr));
  const auto events = Events(body);
  ASSERT_EQ(events.size(), 6u) << body;
  const json first = json::parse(events[0]);
  EXPECT_EQ(first["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(first["usage"].is_null());
  EXPECT_EQ(json::parse(events[1])["choices"][0]["delta"]["content"], "Hel");
  EXPECT_EQ(json::parse(events[2])["choices"][0]["delta"]["content"], "lo");
  const json finish = json::parse(events[3]);
  EXPECT_TRUE(finish["choices"][0]["delta"].empty());
  EXPECT_EQ(finish["choices"][0]["finish_reason"], "length");
  const json usage = json::parse(events[4]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 2);
  EXPECT_EQ(events[5], "[DONE]");
  for (size_t i = 0; i < 5; ++i) {
    const json e = json::parse(events[i]);
    EXPECT_EQ(e["id"], "chatcmpl-test");
    EXPECT_EQ(e["object"], "chat.completion.chunk");
  }
}

TEST(GenerationJob, StreamCompletionWithLogprobsAndEcho) {
  FakeBackend backend({"a", "bc"});
  GenerationInput in = Input(Endpoint::kCompletion, 1, true);
  in.params.logprobs = true;
  in.params.top_logprobs = 1;
  in.echo = {"P:"};
  GenerationJob job(backend, std::move(in), nullptr, nullptr, std::chrono::steady_clock::now());
  std::string body;
  ASSERT_TRUE(job.Stream([&](const std::string& s) { body += s; return true; }, nullptr));
  const auto events = Events(body);
  ASSERT_EQ(events.size(), 5u) << body;
  EXPECT_EQ(json::parse(events[0])["choices"][0]["text"], "P:");
  const json second = json::parse(events[2]);
  EXPECT_EQ(second["object"], "text_completion");
  EXPECT_EQ(second["choices"][0]["text"], "bc");
  EXPECT_EQ(second["choices"][0]["logprobs"]["text_offset"], json({3}));  // "P:" + "a"
  EXPECT_FALSE(second.contains("usage"));
  EXPECT_EQ(json::parse(events[3])["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(events[4], "[DONE]");
}

TEST(GenerationJob, WriteFailureCancels) {
  FakeBackend backend(std::vector<std::string>(50, "x"), std::chrono::milliseconds(2));
  InFlightRegistry registry;
  Metrics metrics;
  {
    GenerationJob job(backend, Input(Endpoint::kChat, 1, true), &metrics, &registry,
                      std::chrono::steady_clock::now());
    int writes = 0;
    EXPECT_FALSE(job.Stream([&](const std::string&) { return ++writes < 4; }, nullptr));
    EXPECT_TRUE(backend.handles[0]->cancelled());
    EXPECT_EQ(registry.size(), 0u);
  }
  EXPECT_NE(metrics.Render(std::nullopt).find("ternserve_client_disconnects_total 1"), std::string::npos);
}

TEST(GenerationJob, ClientGoneCancelsCollect) {
  FakeBackend backend(std::vector<std::string>(50, "x"), std::chrono::milliseconds(2));
  GenerationJob job(backend, Input(Endpoint::kChat, 3), nullptr, nullptr,
                    std::chrono::steady_clock::now());
  int polls = 0;
  EXPECT_FALSE(job.Collect([&] { return ++polls > 3; }));
  for (const auto& h : backend.handles) EXPECT_TRUE(h->cancelled());
}

TEST(GenerationJob, RefusedSubmitQueuesNothing) {
  FakeBackend backend({"x"});
  backend.refuse_queue_full = true;
  EXPECT_THROW(GenerationJob(backend, Input(Endpoint::kChat, 2), nullptr, nullptr,
                             std::chrono::steady_clock::now()),
               QueueFullError);
  EXPECT_TRUE(backend.submitted.empty());
}

TEST(GenerationJob, CutShortByShutdownIsAnErrorNotAFinish) {
  FakeBackend backend({"x"});
  backend.finish = FinishReason::kCancelled;  // what the engine reports when shutdown cancels
  {
    GenerationJob job(backend, Input(Endpoint::kChat), nullptr, nullptr,
                      std::chrono::steady_clock::now());
    try {
      job.Collect(nullptr);
      FAIL() << "a cut-short generation was returned as complete";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 503);
      EXPECT_EQ(e.code, "shutting_down");
    }
  }
  GenerationJob job(backend, Input(Endpoint::kChat, 1, true), nullptr, nullptr,
                    std::chrono::steady_clock::now());
  std::string body;
  ASSERT_TRUE(job.Stream(
      [&](const std::string& s) {
        body += s;
        return true;
      },
      nullptr));
  const auto events = Events(body);
  ASSERT_EQ(events.size(), 4u) << body;  // role, "x", the error, [DONE]: no finish_reason chunk
  EXPECT_EQ(json::parse(events[2])["error"]["code"], "shutting_down");
  EXPECT_EQ(body.find("finish_reason\":\"stop"), std::string::npos) << body;
  EXPECT_EQ(events[3], "[DONE]");
}

TEST(GenerationJob, EngineErrorIs500) {
  FakeBackend backend({"x"});
  backend.finish = FinishReason::kError;
  GenerationJob job(backend, Input(Endpoint::kChat), nullptr, nullptr,
                    std::chrono::steady_clock::now());
  try {
    job.Collect(nullptr);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 500);
  }
}

}  // namespace
}  // namespace ts::server
