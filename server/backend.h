// What the HTTP layer needs from a loaded model: submit/cancel through RequestHandle,
// engine state for /metrics, the tokenizer for prompts, and model metadata. ts::Engine
// is the real one (engine_backend.cpp); tests plug in scripted ones.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/tokenizer/tokenizer.h"

namespace ts::server {

struct ModelInfo {
  std::string id;             // shown in /v1/models and responses
  std::string arch_name;      // general.architecture
  std::string chat_template;  // tokenizer.chat_template ("" if none)
  int ctx_size = 0;           // tokens per sequence
  int64_t created = 0;        // unix seconds (load time)
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Queues one API request's sequences together, all or none; throws QueueFullError /
  // InvalidRequestError like Engine::SubmitGroup.
  virtual std::vector<std::shared_ptr<RequestHandle>> SubmitGroup(
      std::vector<GenerationRequest> requests) = 0;
  virtual EngineStats Stats() const = 0;
  virtual const tokenizer::Tokenizer& Tokenizer() const = 0;
  virtual const ModelInfo& Info() const = 0;
  // Stops admitting work; in-flight requests finish or are cancelled.
  virtual void Shutdown(bool cancel_in_flight) = 0;
};

// Returns a Backend over a loaded engine (defined only when ts_engine is built).
std::unique_ptr<Backend> MakeEngineBackend(std::unique_ptr<Engine> engine, std::string model_id);

}  // namespace ts::server
