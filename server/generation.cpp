#include "server/generation.h"

#include <algorithm>
#include <random>

#include "server/api_error.h"

namespace ts::server {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A cancelled request whose engine never sends a last event is given up after this.
constexpr milliseconds kCancelGrace{5000};

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// A choice cancelled while its client still waits: the server is shutting down and its drain
// time ran out. The output is cut short, so it must not look finished.
ApiError CutShortByShutdown() {
  ApiError e(503, "the server is shutting down: this generation was stopped before it finished", {},
             "shutting_down");
  e.retry_after_s = 5;
  return e;
}

}  // namespace

// --- InFlightRegistry -----------------------------------------------------------------

void InFlightRegistry::Add(const std::shared_ptr<RequestHandle>& handle) {
  std::lock_guard lock(mutex_);
  handles_.push_back(handle);
}

void InFlightRegistry::Remove(const std::shared_ptr<RequestHandle>& handle) {
  std::lock_guard lock(mutex_);
  std::erase(handles_, handle);
  if (handles_.empty()) idle_.notify_all();
}

void InFlightRegistry::CancelAll() {
  std::lock_guard lock(mutex_);
  for (const auto& h : handles_) h->Cancel();
}

bool InFlightRegistry::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_.wait_until(lock, deadline, [&] { return handles_.empty(); });
}

size_t InFlightRegistry::size() const {
  std::lock_guard lock(mutex_);
  return handles_.size();
}

// --- GenerationJob --------------------------------------------------------------------

GenerationJob::GenerationJob(Backend& backend, GenerationInput input, Metrics* metrics,
                             InFlightRegistry* registry, Clock::time_point arrival)
    : backend_(backend),
      input_(std::move(input)),
      metrics_(metrics),
      registry_(registry),
      arrival_(arrival) {
  const uint64_t random_seed = std::random_device{}() * 0x9E3779B97F4A7C15ull;
  const int n = input_.params.n;
  std::vector<GenerationRequest> requests;
  for (size_t p = 0; p < input_.prompts.size(); ++p) {
    for (int j = 0; j < n; ++j) {
      Choice c;
      c.index = static_cast<int>(p) * n + j;
      c.prompt_index = static_cast<int>(p);
      c.result.index = c.index;
      if (!input_.echo.empty()) c.text_bytes = input_.echo[p].size();
      c.last_event = arrival_;
      choices_.push_back(std::move(c));
      requests.push_back(MakeGenerationRequest(input_.params, input_.prompts[p], j, random_seed));
    }
  }
  // All choices are queued together or not at all (a refusal throws before anything runs).
  std::vector<std::shared_ptr<RequestHandle>> handles = backend_.SubmitGroup(std::move(requests));
  for (size_t k = 0; k < choices_.size(); ++k) {
    choices_[k].handle = std::move(handles[k]);
    if (registry_) registry_->Add(choices_[k].handle);
  }
}

GenerationJob::~GenerationJob() { CancelUnfinished(); }

void GenerationJob::CancelUnfinished() {
  for (Choice& c : choices_) {
    if (c.finished) continue;
    c.handle->Cancel();
    c.finished = true;
    c.result.finish = FinishReason::kCancelled;
    if (registry_) registry_->Remove(c.handle);
  }
}

bool GenerationJob::AllFinished() const {
  return std::all_of(choices_.begin(), choices_.end(), [](const Choice& c) { return c.finished; });
}

std::string GenerationJob::Piece(int32_t id) const {
  try {
    return backend_.Tokenizer().TokenToPiece(id);
  } catch (const std::exception&) {
    return {};
  }
}

void GenerationJob::Finish(Choice& c, const GenerationEvent& ev) {
  c.finished = true;
  c.result.finish = ev.finish_reason == FinishReason::kNone ? FinishReason::kStop : ev.finish_reason;
  c.usage.prompt_tokens = ev.prompt_tokens;
  c.usage.completion_tokens = ev.completion_tokens;
  c.usage.cached_prompt_tokens = ev.cached_prompt_tokens;
  if (c.usage.prompt_tokens == 0) {
    c.usage.prompt_tokens = static_cast<int>(input_.prompts[c.prompt_index].size());
  }
  if (registry_) registry_->Remove(c.handle);
  if (metrics_) {
    const bool first_of_prompt = c.index % input_.params.n == 0;
    metrics_->AddTokens(first_of_prompt ? static_cast<uint64_t>(c.usage.prompt_tokens) : 0,
                        static_cast<uint64_t>(c.usage.completion_tokens));
  }
}

Usage GenerationJob::TotalUsage() const {
  Usage total;
  for (const Choice& c : choices_) {
    if (c.index % input_.params.n == 0) {  // the prompt counts once per prompt, as OpenAI does
      total.prompt_tokens += c.usage.prompt_tokens;
      total.cached_prompt_tokens += c.usage.cached_prompt_tokens;
    }
    total.completion_tokens += c.usage.completion_tokens;
  }
  return total;
}

bool GenerationJob::Pump(const std::function<void(Choice&, GenerationEvent&)>& on_event,
                         const std::function<bool()>& client_gone) {
  auto deliver = [&](Choice& c, GenerationEvent& ev) {
    const Clock::time_point now = Clock::now();
    if (!ev.text.empty() && metrics_) {
      if (!c.got_first) {
        metrics_->ObserveTimeToFirstToken(Seconds(now - arrival_));
      } else {
        metrics_->ObserveInterTokenLatency(Seconds(now - c.last_event));
      }
    }
    if (!ev.text.empty()) {
      c.got_first = true;
      c.last_event = now;
    }
    on_event(c, ev);
    if (ev.finished) Finish(c, ev);
  };

  // Drain whatever is ready without waiting, so interleaved choices stay in step.
  bool any = false;
  GenerationEvent ev;
  for (Choice& c : choices_) {
    while (!c.finished && c.handle->Next(&ev, milliseconds(0))) {
      deliver(c, ev);
      ev = GenerationEvent{};
      any = true;
    }
  }
  if (any) return !client_gone || !client_gone() || (CancelUnfinished(), false);

  // Nothing ready: block on one unfinished choice (briefly when others must be polled).
  size_t unfinished = 0;
  Choice* first = nullptr;
  for (Choice& c : choices_) {
    if (!c.finished) {
      ++unfinished;
      if (!first) first = &c;
    }
  }
  if (!first) return true;
  const milliseconds wait = unfinished == 1 ? milliseconds(100) : milliseconds(5);
  if (first->handle->Next(&ev, wait)) {
    deliver(*first, ev);
  } else if (first->handle->cancelled() && Clock::now() - first->last_event > kCancelGrace) {
    GenerationEvent gave_up;
    gave_up.finished = true;
    gave_up.finish_reason = FinishReason::kCancelled;
    deliver(*first, gave_up);
  }
  if (client_gone && client_gone()) {
    CancelUnfinished();
    return false;
  }
  return true;
}

std::optional<json> GenerationJob::Collect(const std::function<bool()>& client_gone) {
  auto on_event = [&](Choice& c, GenerationEvent& ev) {
    c.result.text += ev.text;
    if (input_.params.logprobs) {
      for (auto& t : ev.tokens) c.result.tokens.push_back(std::move(t));
    }
    if (ev.finished && ev.finish_reason == FinishReason::kError) {
      c.result.text = ev.error;  // reported below
    }
  };
  while (!AllFinished()) {
    if (!Pump(on_event, client_gone)) {
      if (metrics_) metrics_->CountClientDisconnect();
      return std::nullopt;
    }
  }
  if (metrics_) metrics_->ObserveRequestDuration(Seconds(Clock::now() - arrival_));
  std::vector<ChoiceResult> results;
  for (Choice& c : choices_) {
    if (c.result.finish == FinishReason::kError) {
      throw ApiError(500, "generation failed: " + c.result.text, {}, "engine_error");
    }
    if (c.result.finish == FinishReason::kCancelled) throw CutShortByShutdown();
    if (!input_.echo.empty()) c.result.text = input_.echo[c.prompt_index] + c.result.text;
    if (input_.tools) ExtractCalls(c);
    results.push_back(c.result);
  }
  const PieceFn piece = [this](int32_t id) { return Piece(id); };
  return input_.endpoint == Endpoint::kChat
             ? ChatCompletion(input_.meta, results, TotalUsage(), input_.params.logprobs, piece)
             : TextCompletion(input_.meta, results, TotalUsage(), input_.params.logprobs, piece);
}

void GenerationJob::ExtractCalls(Choice& c) const {
  const ToolsRequest& tools = *input_.tools;
  ToolReply reply = ExtractToolCalls(c.result.text, tools);
  c.result.text = std::move(reply.content);
  c.result.tool_calls = std::move(reply.calls);
  // OpenAI answers a call it was told to make (a named function) with "stop".
  c.result.finish_tool_calls = !c.result.tool_calls.empty() && tools.choice != ToolChoice::kNamed &&
                               c.result.finish == FinishReason::kStop;
}

void GenerationJob::StreamToolEvent(Choice& c, const GenerationEvent& ev,
                                    const std::function<void(const json&)>& emit_delta) {
  const ToolsRequest& tools = *input_.tools;
  c.result.text += ev.text;
  if (tools.choice == ToolChoice::kNamed) {
    // The reply is the call's arguments: stream them as they come.
    if (ev.text.empty()) return;
    json call = {{"index", 0}};
    if (!c.call_started) {
      call["id"] = NewToolCallId();
      call["type"] = "function";
      call["function"] = {{"name", tools.named}, {"arguments", ev.text}};
      c.call_started = true;
    } else {
      call["function"] = {{"arguments", ev.text}};
    }
    emit_delta({{"tool_calls", json::array({call})}});
    return;
  }
  auto send_content = [&](size_t end) {
    if (end > c.content_sent) {
      emit_delta({{"content", c.result.text.substr(c.content_sent, end - c.content_sent)}});
      c.content_sent = end;
    }
  };
  if (tools.choice == ToolChoice::kAuto && !ev.finished)
    send_content(SafeContentPrefix(c.result.text));
  if (!ev.finished) return;
  c.result.finish =
      ev.finish_reason == FinishReason::kNone ? FinishReason::kStop : ev.finish_reason;
  ExtractCalls(c);
  if (c.result.tool_calls.empty()) {
    send_content(c.result.text.size());  // a plain reply after all: the rest of it
  } else {
    emit_delta({{"tool_calls", ToolCallsJson(c.result.tool_calls, true)}});
  }
}

bool GenerationJob::Stream(const std::function<bool(const std::string&)>& write,
                           const std::function<bool()>& client_gone) {
  const bool chat = input_.endpoint == Endpoint::kChat;
  const bool usage_null = input_.params.include_usage;
  const bool logprobs = input_.params.logprobs;
  const ResponseMeta& meta = input_.meta;
  bool ok = true;
  auto emit = [&](const json& payload) {
    if (ok && !write(SseEvent(payload))) ok = false;
  };

  for (const Choice& c : choices_) {
    if (chat) {
      emit(ChatChunk(meta, c.index, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr,
                     usage_null));
    } else if (!input_.echo.empty()) {
      emit(CompletionChunk(meta, c.index, input_.echo[c.prompt_index], nullptr, nullptr,
                           usage_null));
    }
  }
  const PieceFn piece = [this](int32_t id) { return Piece(id); };
  auto on_event = [&](Choice& c, GenerationEvent& ev) {
    if (input_.tools && ev.finish_reason != FinishReason::kError &&
        ev.finish_reason != FinishReason::kCancelled) {
      StreamToolEvent(c, ev, [&](const json& delta) {
        emit(ChatChunk(meta, c.index, delta, nullptr, nullptr, usage_null));
      });
    } else if (!ev.text.empty() || (logprobs && !ev.tokens.empty())) {
      if (chat) {
        emit(ChatChunk(meta, c.index, {{"content", ev.text}}, nullptr,
                       logprobs ? ChatLogprobs(ev.tokens, piece) : json(nullptr), usage_null));
      } else {
        emit(CompletionChunk(meta, c.index, ev.text, nullptr,
                             logprobs ? CompletionLogprobs(ev.tokens, piece, c.text_bytes)
                                      : json(nullptr),
                             usage_null));
      }
      c.text_bytes += ev.text.size();
    }
    if (!ev.finished) return;
    if (ev.finish_reason == FinishReason::kError) {
      emit(ErrorBody(ApiError(500, "generation failed: " + ev.error, {}, "engine_error")));
      return;
    }
    if (ev.finish_reason == FinishReason::kCancelled) {
      emit(ErrorBody(CutShortByShutdown()));
      return;
    }
    const char* finish =
        c.result.finish_tool_calls ? "tool_calls" : WireFinishReason(ev.finish_reason);
    if (chat) {
      emit(ChatChunk(meta, c.index, json::object(), finish, nullptr, usage_null));
    } else {
      emit(CompletionChunk(meta, c.index, "", finish, nullptr, usage_null));
    }
  };
  auto gone = [&] { return !ok || (client_gone && client_gone()); };
  bool client_left = false;
  while (!AllFinished()) {
    if (!Pump(on_event, gone)) {
      client_left = true;
      break;
    }
  }
  if (!client_left && ok) {
    if (input_.params.include_usage) {
      emit(UsageChunk(meta, chat ? "chat.completion.chunk" : "text_completion", TotalUsage()));
    }
    if (ok && !write(kSseDone)) ok = false;
  }
  if (client_left || !ok) {
    CancelUnfinished();
    if (metrics_) metrics_->CountClientDisconnect();
    return false;
  }
  if (metrics_) metrics_->ObserveRequestDuration(Seconds(Clock::now() - arrival_));
  return true;
}

}  // namespace ts::server
