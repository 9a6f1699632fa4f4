// The engine end to end on a fixture model: continuous batching, prefix reuse and
// preemption must not change greedy outputs; cancellation frees KV blocks.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "engine/kv/dense_kv_cache.h"
#include "engine/model/forward.h"
#include "engine/model/model.h"
#include "engine/sample/json_prefix.h"

namespace ts {
namespace {

const std::string kModel = std::string(TS_FIXTURES_DIR) + "/models/tiny-gpt2-tq2_0.gguf";

EngineOptions BaseOptions() {
  EngineOptions o;
  o.model_path = kModel;
  o.threads = 2;
  o.ctx_size = 256;
  o.parallel = 4;
  o.batch_tokens = 64;
  o.kv_type = "f32";
  o.kv_memory_bytes = 32ull << 20;
  o.head = "f32";
  return o;
}

GenerationRequest Greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.want_logprobs = true;
  return r;
}

struct Result {
  std::vector<int32_t> ids;
  std::string text;
  GenerationEvent last;
};

Result Collect(RequestHandle& h) {
  Result r;
  GenerationEvent ev;
  for (;;) {
    EXPECT_TRUE(h.Next(&ev, std::chrono::seconds(60))) << "engine stalled";
    r.text += ev.text;
    for (const auto& t : ev.tokens) r.ids.push_back(t.id);
    if (ev.finished) break;
  }
  r.last = ev;
  return r;
}

std::vector<int32_t> Prompt(int n, int salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back((i * 131 + salt * 17 + 7) % 50000);
  return p;
}

// Greedy tokens from the plain forward pass with a dense cache, one token at a time.
std::vector<int32_t> DirectGreedy(const model::Model& m, const std::vector<int32_t>& prompt, int n) {
  const auto& c = m.config;
  kernels::ThreadPool pool(2);
  kv::DenseKvCache cache(c.n_layers, c.n_kv_heads, c.head_dim, c.n_heads, 1, 256);
  model::ForwardPass pass(c, m.weights, &pool, 256);
  std::vector<model::BatchToken> batch;
  for (size_t i = 0; i < prompt.size(); ++i) batch.push_back({prompt[i], static_cast<int32_t>(i), 0, i + 1 == prompt.size()});
  auto logits = pass.Run(batch, cache);
  std::vector<int32_t> out;
  for (int k = 0; k < n; ++k) {
    const auto id = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(id);
    const model::BatchToken next{id, static_cast<int32_t>(prompt.size() + out.size() - 1), 0, true};
    logits = pass.Run({&next, 1}, cache);
  }
  return out;
}

// Stats are a snapshot taken after each engine step; the last finish event can arrive first.
bool WaitForNoBlocksInUse(const Engine& engine) {
  for (int i = 0; i < 200; ++i) {
    if (engine.stats().kv_blocks_used == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(Engine, GreedyMatchesPlainForwardPass) {
  Engine engine(BaseOptions());
  const auto prompt = Prompt(40, 1);
  const Result r = Collect(*engine.Submit(Greedy(prompt, 12)));
  EXPECT_EQ(r.last.finish_reason, FinishReason::kLength);
  EXPECT_EQ(r.last.prompt_tokens, 40);
  EXPECT_EQ(r.last.completion_tokens, 12);
  EXPECT_EQ(r.ids, DirectGreedy(engine.model(), prompt, 12));
}

TEST(Engine, ConcurrentRequestsMatchSoloRuns) {
  Engine engine(BaseOptions());
  std::vector<std::vector<int32_t>> solo;
  for (int k = 0; k < 4; ++k) solo.push_back(Collect(*engine.Submit(Greedy(Prompt(20 + 30 * k, k), 10))).ids);
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (int k = 0; k < 4; ++k) handles.push_back(engine.Submit(Greedy(Prompt(20 + 30 * k, k), 10)));
  for (int k = 0; k < 4; ++k) EXPECT_EQ(Collect(*handles[static_cast<size_t>(k)]).ids, solo[static_cast<size_t>(k)]) << k;
}

TEST(Engine, PrefixReuseGivesTheSameTokens) {
  Engine engine(BaseOptions());
  const auto prompt = Prompt(100, 3);
  const Result cold = Collect(*engine.Submit(Greedy(prompt, 10)));
  const Result warm = Collect(*engine.Submit(Greedy(prompt, 10)));
  EXPECT_EQ(cold.last.cached_prompt_tokens, 0);
  EXPECT_EQ(warm.last.cached_prompt_tokens, 96);  // 6 full blocks of 16; the last token is recomputed
  EXPECT_EQ(warm.ids, cold.ids);
  EXPECT_GT(engine.stats().prefix_hits, 0u);
}

// Choices of one request (identical prompts) arrive together: the second waits one step and
// takes the first one's prompt blocks from the prefix cache instead of computing them too.
TEST(Engine, IdenticalPromptsSubmittedTogetherComputeTheSharedBlocksOnce) {
  Engine engine(BaseOptions());  // a budget of 64 tokens per step would fit both 40-token prompts
  std::vector<GenerationRequest> group;
  for (int k = 0; k < 3; ++k) group.push_back(Greedy(Prompt(40, 5), 8));
  const auto handles = engine.SubmitGroup(std::move(group));
  const Result first = Collect(*handles[0]);
  EXPECT_EQ(first.last.cached_prompt_tokens, 0);
  for (size_t k = 1; k < handles.size(); ++k) {
    const Result other = Collect(*handles[k]);
    EXPECT_EQ(other.last.cached_prompt_tokens, 32) << k;  // 2 full blocks of 16
    EXPECT_EQ(other.ids, first.ids) << k;
  }
}

TEST(Engine, PreemptionUnderMemoryPressureKeepsOutputs) {
  EngineOptions o = BaseOptions();
  // 4 x (60 prompt + 40 output) tokens need 28 blocks; give 14 (one 16-token block ~ 50 KB here).
  const size_t bytes_per_block = 4u * 2 * 2 * 64 * 4 * 16;
  o.kv_memory_bytes = bytes_per_block * 14;
  o.ctx_size = 128;
  Engine engine(o);
  std::vector<std::vector<int32_t>> solo;
  for (int k = 0; k < 4; ++k) solo.push_back(Collect(*engine.Submit(Greedy(Prompt(60, 10 + k), 40))).ids);
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (int k = 0; k < 4; ++k) handles.push_back(engine.Submit(Greedy(Prompt(60, 10 + k), 40)));
  for (int k = 0; k < 4; ++k) EXPECT_EQ(Collect(*handles[static_cast<size_t>(k)]).ids, solo[static_cast<size_t>(k)]) << k;
  EXPECT_GT(engine.stats().preemptions, 0u);
  EXPECT_TRUE(WaitForNoBlocksInUse(engine));
}

TEST(Engine, CancelFreesBlocksWithinAStep) {
  Engine engine(BaseOptions());
  auto h = engine.Submit(Greedy(Prompt(50, 5), 200));
  GenerationEvent ev;
  ASSERT_TRUE(h->Next(&ev, std::chrono::seconds(30)));
  // Stats are a snapshot taken after each step: give it a step to show the blocks.
  for (int i = 0; i < 100 && engine.stats().kv_blocks_used == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GT(engine.stats().kv_blocks_used, 0u);
  h->Cancel();
  do {
    ASSERT_TRUE(h->Next(&ev, std::chrono::seconds(30)));
  } while (!ev.finished);
  EXPECT_EQ(ev.finish_reason, FinishReason::kCancelled);
  EXPECT_TRUE(WaitForNoBlocksInUse(engine));
  EXPECT_EQ(engine.stats().running, 0);
}

TEST(Engine, StopStringsAndLimits) {
  Engine engine(BaseOptions());
  const auto prompt = Prompt(10, 9);
  const Result free_run = Collect(*engine.Submit(Greedy(prompt, 30)));
  ASSERT_GE(free_run.text.size(), 6u);
  // Stop on a piece of the text the model is known to produce: output ends right before it.
  const std::string stop = free_run.text.substr(3, 3);
  auto req = Greedy(prompt, 30);
  req.stop = {stop};
  const Result stopped = Collect(*engine.Submit(req));
  EXPECT_EQ(stopped.last.finish_reason, FinishReason::kStop);
  EXPECT_EQ(stopped.text, free_run.text.substr(0, free_run.text.find(stop)));
}

TEST(Engine, RejectsImpossibleRequestsAndFullQueue) {
  EngineOptions o = BaseOptions();
  o.max_queue = 1;
  Engine engine(o);
  EXPECT_THROW(engine.Submit(Greedy({}, 1)), InvalidRequestError);
  EXPECT_THROW(engine.Submit(Greedy({60000}, 1)), InvalidRequestError);
  try {
    engine.Submit(Greedy(Prompt(300, 1), 1));
    FAIL() << "prompt longer than the context accepted";
  } catch (const InvalidRequestError& e) {
    EXPECT_EQ(e.code, "context_length_exceeded");
  }
  // Fill the queue faster than the engine drains it.
  int rejected = 0;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (int k = 0; k < 20; ++k) {
    try {
      handles.push_back(engine.Submit(Greedy(Prompt(30, k), 50)));
    } catch (const QueueFullError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  for (auto& h : handles) Collect(*h);
}

TEST(Engine, AGroupLargerThanTheQueueIsAdmittedWhole) {
  EngineOptions o = BaseOptions();
  o.parallel = 1;
  o.max_queue = 2;
  Engine engine(o);
  // Four choices of one request: more than --max-queue, yet the queue is empty, so all go in.
  std::vector<GenerationRequest> group;
  for (int k = 0; k < 4; ++k) group.push_back(Greedy(Prompt(20, k), 40));
  const auto handles = engine.SubmitGroup(std::move(group));
  ASSERT_EQ(handles.size(), 4u);
  // Three now wait behind the running one: a new request is refused; a bad group queues nothing.
  EXPECT_THROW(engine.Submit(Greedy(Prompt(20, 9), 1)), QueueFullError);
  std::vector<GenerationRequest> bad;
  bad.push_back(Greedy(Prompt(20, 5), 1));
  bad.push_back(Greedy({60000}, 1));
  EXPECT_THROW(engine.SubmitGroup(std::move(bad)), InvalidRequestError);
  for (const auto& h : handles) EXPECT_EQ(Collect(*h).ids.size(), 40u);
  EXPECT_EQ(engine.stats().requests_finished, 4u);
}

TEST(Engine, SeededSamplingIsReproducible) {
  Engine engine(BaseOptions());
  auto req = Greedy(Prompt(10, 2), 20);
  req.sampling.temperature = 0.9f;
  req.sampling.seed = 1234;
  const auto a = Collect(*engine.Submit(req)).ids;
  const auto b = Collect(*engine.Submit(req)).ids;
  req.sampling.seed = 99;
  const auto c = Collect(*engine.Submit(req)).ids;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// True if text is a JSON object or could still become one: a strict parser fails, if at all,
// only for want of more input.
bool IsJsonObjectOrPrefix(const std::string& text) {
  try {
    return nlohmann::json::parse(text).is_object();
  } catch (const nlohmann::json::parse_error& e) {
    return e.byte > text.size() && text.find_first_not_of(" \t\r\n") != std::string::npos &&
           text[text.find_first_not_of(" \t\r\n")] == '{';
  }
}

TEST(Engine, JsonModeHoldsARandomModelToJson) {
  // The fixture model is random: left alone it never writes JSON, so every step exercises the
  // constraint's fallback over the whole vocabulary.
  Engine engine(BaseOptions());
  int completed = 0;
  for (int salt = 0; salt < 4; ++salt) {
    auto req = Greedy(Prompt(12, 30 + salt), 60);
    req.json_schema = std::make_shared<const sample::JsonSchema>(sample::JsonSchema::AnyObject());
    req.sampling.temperature = salt == 0 ? 0.0f : 1.0f;
    req.sampling.seed = static_cast<uint64_t>(salt);
    const Result r = Collect(*engine.Submit(req));
    SCOPED_TRACE(r.text);
    EXPECT_TRUE(IsJsonObjectOrPrefix(r.text));
    ASSERT_TRUE(r.last.finish_reason == FinishReason::kStop ||
                r.last.finish_reason == FinishReason::kLength);
    if (r.last.finish_reason == FinishReason::kStop) {
      EXPECT_TRUE(nlohmann::json::parse(r.text).is_object());
      ++completed;
    } else {
      EXPECT_EQ(r.last.completion_tokens, 60);
    }
  }
  RecordProperty("completed", completed);
}

TEST(Engine, JsonModeEndsWhenTheObjectCloses) {
  Engine engine(BaseOptions());
  const auto& tok = engine.tokenizer();
  auto req = Greedy(Prompt(12, 40), 50);
  req.json_schema = std::make_shared<const sample::JsonSchema>(sample::JsonSchema::AnyObject());
  // Pushed towards closing: "}" wherever it is allowed, so the object ends within a few tokens.
  for (int32_t id : tok.Encode("}", false, false)) req.sampling.logit_bias.push_back({id, 40.0f});
  const Result r = Collect(*engine.Submit(req));
  EXPECT_EQ(r.last.finish_reason, FinishReason::kStop);
  EXPECT_TRUE(nlohmann::json::parse(r.text).is_object()) << r.text;
  EXPECT_LT(r.last.completion_tokens, 50);
  EXPECT_EQ(static_cast<int>(r.ids.size()), r.last.completion_tokens);
}

// Lazy JSON (function calls in auto mode): free text until the trigger, then one object that
// fits, then free text again. The trigger is the random model's own greedy opening, so it
// comes up by itself.
TEST(Engine, LazyJsonStartsAtTheTriggerAndEndsWithTheObject) {
  Engine engine(BaseOptions());
  const std::string trigger = Collect(*engine.Submit(Greedy(Prompt(12, 50), 2))).text;
  ASSERT_FALSE(trigger.empty());
  sample::JsonSchema schema;  // {"k": "a" | "b"}
  schema.nodes.resize(3);
  schema.nodes[1].types = sample::kJsonObject;
  schema.nodes[1].closed = true;
  schema.nodes[1].properties = {{"\"k\"", 2, true}};
  schema.nodes[2].literals = {"\"a\"", "\"b\""};
  auto req = Greedy(Prompt(12, 50), 80);
  req.json_schema = std::make_shared<const sample::JsonSchema>(std::move(schema));
  req.json_trigger = trigger;
  const Result r = Collect(*engine.Submit(req));
  SCOPED_TRACE(r.text);
  ASSERT_EQ(r.text.rfind(trigger, 0), 0u);  // greedy: the same free opening
  sample::JsonPrefix object(req.json_schema);
  size_t end = trigger.size();
  while (end < r.text.size() && !object.complete())
    ASSERT_TRUE(object.Feed(r.text.substr(end++, 1)));
  ASSERT_TRUE(object.complete());
  const auto fitted = nlohmann::json::parse(r.text.substr(trigger.size(), end - trigger.size()));
  EXPECT_TRUE(fitted == nlohmann::json({{"k", "a"}}) || fitted == nlohmann::json({{"k", "b"}}));
  // The closed object did not end the sequence: it went on as free text.
  EXPECT_GT(r.ids.size(), 2u + 5u);
  EXPECT_TRUE(r.last.finish_reason == FinishReason::kLength || r.text.size() > end)
      << r.text.size();

  // Without the trigger in the text the constraint never starts: the plain greedy text.
  req.json_trigger = "\x01never\x02";
  const Result free_text = Collect(*engine.Submit(req));
  auto plain = Greedy(Prompt(12, 50), 80);
  EXPECT_EQ(free_text.ids, Collect(*engine.Submit(plain)).ids);
}

}  // namespace
}  // namespace ts
