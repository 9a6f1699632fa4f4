// The one interface the server uses: submit a generation request, receive its
// stream of events, cancel it. Behind it: the continuous-batching scheduler, the
// paged KV cache and the model runner, driven by one engine thread.
//
//   server thread                       engine thread
//   ------------                        -------------
//   auto h = engine.Submit(req)  --->   queued (FCFS), admitted when KV blocks allow
//   while (h->Next(&ev, timeout))  <--- one event per scheduler step with new text
//     write SSE chunk / collect          ... last event has finished = true
//   client gone: h->Cancel()     --->   freed within one step
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/sample/json_schema.h"
#include "engine/sample/sampler.h"

namespace ts {

namespace model {
struct Model;
}
namespace tokenizer {
class Tokenizer;
}

struct EngineOptions {
  std::string model_path;
  std::string head = "auto";        // output head storage: auto | f32 | f16 | q8 | q4
  int threads = 0;                  // 0 = physical cores
  int ctx_size = 0;                 // max tokens per sequence (prompt + output); 0 = model's context
  int parallel = 16;                // max sequences running at once
  int batch_tokens = 64;            // max tokens per forward step (decode tokens + prompt chunks)
  int max_queue = 64;               // waiting requests beyond which Submit refuses
  std::string kv_type = "q8";       // f32 | f16 | q8 | q4
  uint64_t kv_memory_bytes = 0;     // 0 = derived from free RAM and the model
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* FinishReasonName(FinishReason reason);  // "stop", "length", "cancelled", "error"

struct GenerationRequest {
  std::vector<int32_t> prompt;       // token ids, already templated/tokenized
  sample::SamplingParams sampling;   // includes seed and n_top_logprobs
  int max_tokens = 0;                // 0 = until the context is full
  std::vector<std::string> stop;     // stop strings: generation ends before them, never emitted
  bool ignore_eos = false;
  bool want_logprobs = false;        // report per-token log-probabilities
  // JSON output: the text is held to one JSON object fitting this schema and ends when the
  // object closes (JSON mode: sample::JsonSchema::AnyObject()). Null: free text.
  std::shared_ptr<const sample::JsonSchema> json_schema;
  // With json_schema, lazily: the text is free until it contains json_trigger; the text after
  // the trigger is then held to one fitting object, and once that closes the text is free again
  // (until the next trigger) instead of ending. A function call in `tool_choice: auto`.
  std::string json_trigger;
};

// One generated token, for logprobs.
struct GeneratedToken {
  int32_t id = 0;
  std::string piece;                 // its bytes (may be partial UTF-8)
  float logprob = 0.0f;
  std::vector<sample::TokenLogprob> top;
};

struct GenerationEvent {
  std::string text;                  // new complete UTF-8 text (stop strings withheld)
  std::vector<GeneratedToken> tokens;  // tokens behind `text` (filled when want_logprobs)
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  int prompt_tokens = 0;             // set on the last event
  int completion_tokens = 0;         // set on the last event
  int cached_prompt_tokens = 0;      // prompt tokens served from the prefix cache
  std::string error;                 // when finish_reason == kError
};

// Thrown by Submit when the waiting queue is full (server: 503 + Retry-After).
class QueueFullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Thrown by Submit for a request that can never run (server: 400), e.g. prompt >= context.
class InvalidRequestError : public std::runtime_error {
 public:
  InvalidRequestError(const std::string& message, std::string param_name, std::string error_code)
      : std::runtime_error(message), param(std::move(param_name)), code(std::move(error_code)) {}
  std::string param;
  std::string code;
};

// A request's event stream. Thread-safe; the server owns it, the engine holds a reference.
class RequestHandle {
 public:
  // Waits up to `timeout` for the next event; returns false on timeout.
  bool Next(GenerationEvent* event, std::chrono::milliseconds timeout);
  // Asks the engine to stop this request (client gone); idempotent.
  void Cancel();
  bool cancelled() const;
  uint64_t id() const { return id_; }

  // Engine side.
  explicit RequestHandle(uint64_t id) : id_(id) {}
  void Push(GenerationEvent event);

 private:
  const uint64_t id_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<GenerationEvent> events_;
  bool cancelled_ = false;
};

struct EngineStats {
  int waiting = 0;                 // requests queued
  int running = 0;                 // sequences in the running batch
  uint64_t kv_blocks_total = 0;
  uint64_t kv_blocks_used = 0;     // referenced by running sequences
  uint64_t kv_blocks_cached = 0;   // free but holding a reusable prefix
  uint64_t kv_block_tokens = 0;    // tokens per block
  uint64_t prefix_queries = 0;     // full prompt blocks looked up in the prefix cache
  uint64_t prefix_hits = 0;        // ... and found
  uint64_t preemptions = 0;
  uint64_t requests_finished = 0;
  uint64_t prompt_tokens = 0;      // totals since start
  uint64_t generated_tokens = 0;
  uint64_t steps = 0;
};

class Engine {
 public:
  // Loads the model and starts the engine thread. Throws std::runtime_error on a bad model.
  explicit Engine(const EngineOptions& options);
  ~Engine();  // cancels everything in flight and joins the engine thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. Throws QueueFullError or InvalidRequestError.
  std::shared_ptr<RequestHandle> Submit(GenerationRequest request);
  // Queues the sequences of one API request (its prompts x n choices) together: all or none.
  // The queue limit is checked once for the group, so a request larger than --max-queue is
  // still admitted when the queue has room (it may overshoot by the group's size).
  std::vector<std::shared_ptr<RequestHandle>> SubmitGroup(std::vector<GenerationRequest> requests);

  // Stops admitting work; requests in flight are finished (drain) or cancelled.
  void Shutdown(bool cancel_in_flight);

  EngineStats stats() const;
  const model::Model& model() const;
  const tokenizer::Tokenizer& tokenizer() const;
  const EngineOptions& options() const;  // with defaults resolved (ctx_size, kv memory, threads)
  int ctx_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ts
