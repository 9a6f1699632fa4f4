// One HTTP generation request in flight: its engine requests (prompts x n choices), and
// the two ways to answer — collect everything into one response body, or stream SSE
// events as the engine produces them. No sockets here: the caller passes a writer and a
// "client gone" probe, so tests drive it with strings.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/backend.h"
#include "server/metrics.h"
#include "server/request.h"
#include "server/response.h"

namespace ts::server {

// Live engine requests of the whole server, for drain / cancel on shutdown.
class InFlightRegistry {
 public:
  void Add(const std::shared_ptr<RequestHandle>& handle);
  void Remove(const std::shared_ptr<RequestHandle>& handle);
  void CancelAll();
  // Returns true when no request is in flight, waiting at most until `deadline`.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::vector<std::shared_ptr<RequestHandle>> handles_;
};

enum class Endpoint { kChat, kCompletion };

struct GenerationInput {
  Endpoint endpoint = Endpoint::kChat;
  ResponseMeta meta;
  GenerationParams params;
  std::vector<std::vector<int32_t>> prompts;  // tokenized; choices = prompts x n
  std::vector<std::string> echo;              // completions with echo: text per prompt
  std::shared_ptr<const ToolsRequest> tools;  // chat whose reply may call tools; else null
};

class GenerationJob {
 public:
  using Clock = std::chrono::steady_clock;
  // Submits every choice. Throws ApiError / QueueFullError / InvalidRequestError; on a
  // throw nothing stays queued (choices already submitted are cancelled).
  GenerationJob(Backend& backend, GenerationInput input, Metrics* metrics,
                InFlightRegistry* registry, Clock::time_point arrival);
  ~GenerationJob();  // cancels unfinished choices
  GenerationJob(const GenerationJob&) = delete;
  GenerationJob& operator=(const GenerationJob&) = delete;

  // Waits for all choices and returns the response body. `client_gone` is polled while
  // waiting; when it answers true the choices are cancelled and nullopt returned.
  // Throws ApiError 500 if the engine reported an error.
  std::optional<nlohmann::json> Collect(const std::function<bool()>& client_gone);

  // Streams SSE events through `write` (returns false when the client is gone) until
  // [DONE]. Returns false if the client went away (choices cancelled).
  bool Stream(const std::function<bool(const std::string&)>& write,
              const std::function<bool()>& client_gone);

  size_t n_choices() const { return choices_.size(); }

 private:
  struct Choice {
    int index = 0;
    int prompt_index = 0;
    std::shared_ptr<RequestHandle> handle;
    bool finished = false;
    ChoiceResult result;
    Usage usage;  // from the last event
    size_t text_bytes = 0;  // for legacy text_offset
    bool got_first = false;
    Clock::time_point last_event;
    size_t content_sent = 0;    // with tools: bytes of result.text streamed as content
    bool call_started = false;  // with a named tool: the call's first delta was sent
  };
  // Calls on_event for each available event of unfinished choices, waiting up to `wait`
  // in total when none is ready. Returns false if `client_gone` fired (choices cancelled).
  bool Pump(const std::function<void(Choice&, GenerationEvent&)>& on_event,
            const std::function<bool()>& client_gone);
  void Finish(Choice& choice, const GenerationEvent& event);
  // With tools: splits a finished choice's text into content and calls.
  void ExtractCalls(Choice& choice) const;
  // With tools, streaming: emits what `choice`'s new text makes certain (content, or a named
  // call's arguments), and at its end the calls.
  void StreamToolEvent(Choice& choice, const GenerationEvent& event,
                       const std::function<void(const nlohmann::json&)>& emit_delta);
  void CancelUnfinished();
  bool AllFinished() const;
  Usage TotalUsage() const;
  std::string Piece(int32_t id) const;

  Backend& backend_;
  GenerationInput input_;
  Metrics* metrics_;
  InFlightRegistry* registry_;
  Clock::time_point arrival_;
  std::vector<Choice> choices_;
  bool cancelled_ = false;
};

}  // namespace ts::server
