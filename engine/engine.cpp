// Engine: owns the model, the paged KV cache, the scheduler and the engine
// thread that runs plan -> forward -> sample -> advance, one step at a time.
#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/kv/paged_kv_cache.h"
#include "engine/model/forward.h"
#include "engine/model/model.h"
#include "engine/sched/scheduler.h"
#include "kernels/cpu.h"
#include "kernels/host_limits.h"
#include "kernels/thread_pool.h"

namespace ts {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
    case FinishReason::kNone: return "none";
  }
  return "none";
}

bool RequestHandle::Next(GenerationEvent* event, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  *event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void RequestHandle::Cancel() {
  std::lock_guard<std::mutex> lock(mutex_);
  cancelled_ = true;
}

bool RequestHandle::cancelled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cancelled_;
}

void RequestHandle::Push(GenerationEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }
  ready_.notify_all();
}

namespace {

constexpr int kBlockSize = 16;  // tokens per KV block: small enough for fine-grained prefix reuse

// Returns the memory this process may still take: the host's MemAvailable, or less under a
// cgroup memory limit (a container's --memory, a pod's limit).
uint64_t AvailableMemoryBytes() {
  uint64_t available = uint64_t{4} << 30;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  std::string unit;
  while (meminfo >> key >> value >> unit) {
    if (key == "MemAvailable:") {
      available = value * 1024;
      break;
    }
  }
  const std::optional<uint64_t> cgroup = kernels::ReadCgroupLimits().memory_available;
  return cgroup.has_value() ? std::min(available, *cgroup) : available;
}

}  // namespace

struct Engine::Impl {
  EngineOptions options;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<kernels::ThreadPool> pool;
  std::unique_ptr<kv::PagedKvCache> kv;
  std::unique_ptr<sched::Scheduler> scheduler;
  std::unique_ptr<model::ForwardPass> forward;

  std::mutex mutex;  // guards incoming, accepting, stop, and the stats snapshot
  std::condition_variable wake;
  std::deque<std::unique_ptr<sched::Sequence>> incoming;
  std::vector<std::unique_ptr<sched::Sequence>> live;  // engine thread only
  bool accepting = true;
  bool stop = false;
  bool cancel_all = false;
  EngineStats snapshot;
  std::atomic<uint64_t> next_id{1};
  std::thread thread;
  std::once_flag json_pieces_once;
  std::shared_ptr<const sample::TokenPieces> json_pieces;  // built for the first JSON request

  void Loop();
  void Step();
  void Finish(sched::Sequence* seq, FinishReason reason, const std::string& error = "");
  void EmitToken(sched::Sequence* seq, const sample::SampledToken& token);
  // Lazy JSON output: starts the constraint once the free text holds the request's trigger.
  void WatchJsonTrigger(sched::Sequence* seq, int32_t token);
  void UpdateSnapshot();
  std::shared_ptr<const sample::TokenPieces> JsonPieces();
  int QueuedLocked() const { return static_cast<int>(incoming.size()) + snapshot.waiting; }
};

Engine::Engine(const EngineOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = options;
  s.model = model::Model::Load({options.model_path, model::ParseHeadPrecision(options.head)});
  const auto& c = s.model->config;
  EngineOptions& o = s.options;
  if (const kernels::CgroupLimits limits = kernels::ReadCgroupLimits();
      limits.cpu_quota.has_value() || limits.memory_available.has_value()) {
    spdlog::info("cgroup limits (defaults follow them): CPU quota {}, memory still allowed {}",
                 limits.cpu_quota ? fmt::format("{:.2f} CPUs", *limits.cpu_quota) : "none",
                 limits.memory_available ? fmt::format("{} MiB", *limits.memory_available >> 20) : "none");
  }
  if (o.threads <= 0) o.threads = kernels::DefaultThreadCount();
  if (o.ctx_size <= 0) o.ctx_size = c.n_ctx_train;
  if (o.parallel <= 0) o.parallel = 1;
  if (o.batch_tokens <= 0) o.batch_tokens = 64;

  const kv::KvShape shape{c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim};
  const kv::KvType kv_type = kv::ParseKvType(o.kv_type);
  const size_t bytes_per_token = kv::KvBytesPerToken(shape, kv_type);
  if (o.kv_memory_bytes == 0) {
    // Default: room for every parallel sequence at full context, capped at 40% of free memory.
    const uint64_t wanted = static_cast<uint64_t>(bytes_per_token) * o.ctx_size * o.parallel;
    o.kv_memory_bytes = std::min<uint64_t>(wanted, AvailableMemoryBytes() * 2 / 5);
  }
  const int n_blocks = static_cast<int>(o.kv_memory_bytes / (bytes_per_token * kBlockSize));
  if (n_blocks * kBlockSize < o.ctx_size) {
    throw std::runtime_error("KV memory of " + std::to_string(o.kv_memory_bytes >> 20) + " MiB holds " +
                             std::to_string(n_blocks * kBlockSize) + " tokens, less than one context of " +
                             std::to_string(o.ctx_size) + ": raise --kv-memory or lower --ctx-size");
  }
  s.pool = std::make_unique<kernels::ThreadPool>(o.threads);
  s.kv = std::make_unique<kv::PagedKvCache>(shape, kv_type, kBlockSize, n_blocks, o.parallel, o.ctx_size);
  s.scheduler = std::make_unique<sched::Scheduler>(sched::SchedulerConfig{o.parallel, o.batch_tokens}, s.kv.get());
  s.forward = std::make_unique<model::ForwardPass>(c, s.model->weights, s.pool.get(),
                                                   std::max(o.batch_tokens, o.parallel));
  spdlog::info("KV cache: {} {:.1f} KiB/token, {} MiB budget = {} blocks of {} tokens = {} tokens; "
               "{} threads, {} parallel sequences, {} tokens per step, context {}",
               kv::KvTypeName(kv_type), static_cast<double>(bytes_per_token) / 1024.0, o.kv_memory_bytes >> 20,
               n_blocks, kBlockSize, n_blocks * kBlockSize, o.threads, o.parallel, o.batch_tokens, o.ctx_size);
  s.UpdateSnapshot();
  s.thread = std::thread([this] { impl_->Loop(); });
}

Engine::~Engine() {
  Shutdown(/*cancel_in_flight=*/true);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::shared_ptr<RequestHandle> Engine::Submit(GenerationRequest request) {
  std::vector<GenerationRequest> one;
  one.push_back(std::move(request));
  return SubmitGroup(std::move(one)).front();
}

std::vector<std::shared_ptr<RequestHandle>> Engine::SubmitGroup(
    std::vector<GenerationRequest> requests) {
  Impl& s = *impl_;
  const int n_vocab = s.model->config.n_vocab;
  // Everything is checked and built before anything is queued: all of the group or none.
  std::vector<std::unique_ptr<sched::Sequence>> group;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (GenerationRequest& request : requests) {
    if (request.prompt.empty()) throw InvalidRequestError("the prompt is empty", "prompt", "");
    for (int32_t id : request.prompt) {
      if (id < 0 || id >= n_vocab) {
        throw InvalidRequestError("token id " + std::to_string(id) +
                                      " is outside the vocabulary of " + std::to_string(n_vocab),
                                  "prompt", "");
      }
    }
    if (static_cast<int>(request.prompt.size()) >= s.options.ctx_size) {
      throw InvalidRequestError(
          "This model's maximum context length is " + std::to_string(s.options.ctx_size) +
              " tokens. However, your prompt has " + std::to_string(request.prompt.size()) +
              " tokens (leaving no room for a completion).",
          "messages", "context_length_exceeded");
    }
    auto seq = std::make_unique<sched::Sequence>();
    seq->id = s.next_id.fetch_add(1);
    seq->handle = std::make_shared<RequestHandle>(seq->id);
    seq->tokens = request.prompt;
    seq->n_prompt = static_cast<int>(request.prompt.size());
    seq->sampler = std::make_unique<sample::Sampler>(request.sampling, n_vocab);
    seq->detokenizer = std::make_unique<tokenizer::IncrementalDetokenizer>(*s.model->tokenizer);
    seq->stop = std::make_unique<sample::StopMatcher>(request.stop);
    if (request.json_schema && request.json_trigger.empty()) {
      seq->json = std::make_unique<sample::JsonConstraint>(s.JsonPieces(), request.json_schema);
    } else if (request.json_schema) {
      s.JsonPieces();  // built now rather than in the step that meets the trigger
    }
    seq->request = std::move(request);
    handles.push_back(seq->handle);
    group.push_back(std::move(seq));
  }
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.accepting) throw QueueFullError("the server is shutting down");
    if (s.QueuedLocked() >= s.options.max_queue) {
      throw QueueFullError("too many requests waiting (" + std::to_string(s.options.max_queue) + "); retry later");
    }
    for (auto& seq : group) s.incoming.push_back(std::move(seq));
  }
  s.wake.notify_all();
  return handles;
}

void Engine::Shutdown(bool cancel_in_flight) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->accepting = false;
    impl_->cancel_all = impl_->cancel_all || cancel_in_flight;
  }
  impl_->wake.notify_all();
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  EngineStats st = impl_->snapshot;
  st.waiting += static_cast<int>(impl_->incoming.size());
  return st;
}

const model::Model& Engine::model() const { return *impl_->model; }
const tokenizer::Tokenizer& Engine::tokenizer() const { return *impl_->model->tokenizer; }
const EngineOptions& Engine::options() const { return impl_->options; }
int Engine::ctx_size() const { return impl_->options.ctx_size; }

std::shared_ptr<const sample::TokenPieces> Engine::Impl::JsonPieces() {
  std::call_once(json_pieces_once, [&] {
    const tokenizer::Tokenizer& tok = *model->tokenizer;
    auto pieces = std::make_shared<sample::TokenPieces>(static_cast<size_t>(tok.n_vocab()));
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      // Special tokens render as their text ("<|eot_id|>"), which is not what they mean.
      if (!tok.IsSpecial(id) && !tok.IsEndOfGeneration(id)) {
        (*pieces)[static_cast<size_t>(id)] = tok.TokenToPiece(id);
      }
    }
    json_pieces = std::move(pieces);
  });
  return json_pieces;
}

void Engine::Impl::UpdateSnapshot() {
  const auto& bp = kv->pool();
  EngineStats st = snapshot;
  st.waiting = scheduler ? static_cast<int>(scheduler->waiting().size()) : 0;
  st.running = scheduler ? static_cast<int>(scheduler->running().size()) : 0;
  st.kv_blocks_total = static_cast<uint64_t>(bp.n_blocks());
  st.kv_blocks_used = static_cast<uint64_t>(bp.n_used());
  st.kv_blocks_cached = static_cast<uint64_t>(bp.n_cached());
  st.kv_block_tokens = static_cast<uint64_t>(bp.block_size());
  st.prefix_queries = kv->prefix_queries();
  st.prefix_hits = kv->prefix_hits();
  st.preemptions = scheduler ? scheduler->n_preemptions() : 0;
  std::lock_guard<std::mutex> lock(mutex);
  snapshot = st;
}

void Engine::Impl::Loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      // Sleep while idle; a short timeout keeps cancellation of queued work prompt.
      wake.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop || !incoming.empty() || !live.empty(); });
      if (stop) break;
      // Moved sequences still count as waiting until the next snapshot: Submit's queue limit
      // must not see an empty queue in between.
      snapshot.waiting += static_cast<int>(incoming.size());
      while (!incoming.empty()) {
        scheduler->Add(incoming.front().get());
        live.push_back(std::move(incoming.front()));
        incoming.pop_front();
      }
    }
    try {
      Step();
    } catch (const std::exception& e) {
      // An engine bug must not take the server down: fail what is in flight and go on.
      spdlog::error("engine step failed: {}", e.what());
      for (auto& seq : live) {
        if (seq->finish == FinishReason::kNone) Finish(seq.get(), FinishReason::kError, e.what());
      }
    }
    live.erase(std::remove_if(live.begin(), live.end(), [](const auto& s) { return s->finish != FinishReason::kNone; }),
               live.end());
    UpdateSnapshot();
  }
  for (auto& seq : live) {
    if (seq->finish == FinishReason::kNone) Finish(seq.get(), FinishReason::kCancelled);
  }
  std::lock_guard<std::mutex> lock(mutex);
  for (auto& seq : incoming) Finish(seq.get(), FinishReason::kCancelled);
}

void Engine::Impl::Finish(sched::Sequence* seq, FinishReason reason, const std::string& error) {
  if (scheduler) scheduler->Remove(seq);
  seq->finish = reason;
  GenerationEvent ev;
  if (reason == FinishReason::kStop || reason == FinishReason::kLength) {
    // Text held back for a possible stop string or an incomplete character is released now.
    ev.text = seq->stop->Push(seq->detokenizer->Flush());
    ev.text += seq->stop->Flush();
  }
  ev.finished = true;
  ev.finish_reason = reason;
  ev.prompt_tokens = seq->n_prompt;
  ev.completion_tokens = seq->n_generated();
  ev.cached_prompt_tokens = seq->n_cached_prompt;
  ev.error = error;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++snapshot.requests_finished;
    snapshot.prompt_tokens += static_cast<uint64_t>(seq->n_prompt);
    snapshot.generated_tokens += static_cast<uint64_t>(seq->n_generated());
  }
  seq->handle->Push(std::move(ev));
}

void Engine::Impl::Step() {
  bool cancel_everything;
  {
    std::lock_guard<std::mutex> lock(mutex);
    cancel_everything = cancel_all;
  }
  for (auto& seq : live) {
    if (seq->finish == FinishReason::kNone && (cancel_everything || seq->handle->cancelled())) {
      Finish(seq.get(), FinishReason::kCancelled);
    }
  }
  const sched::SchedulerOutput plan = scheduler->Schedule();
  if (plan.empty()) {
    // Nothing fits although nothing runs: the head of the queue can never be admitted.
    if (scheduler->running().empty() && !scheduler->waiting().empty()) {
      Finish(scheduler->waiting().front(), FinishReason::kError, "the KV cache cannot hold this request");
    }
    return;
  }
  std::vector<model::BatchToken> batch;
  batch.reserve(static_cast<size_t>(plan.n_tokens));
  for (const auto& chunk : plan.chunks) {
    for (int p = chunk.begin; p < chunk.begin + chunk.n_tokens; ++p) {
      const bool last = p + 1 == chunk.begin + chunk.n_tokens;
      batch.push_back({chunk.seq->tokens[static_cast<size_t>(p)], p, chunk.seq->slot, chunk.sample && last});
    }
  }
  const std::span<const float> logits = forward->Run(batch, *kv);
  scheduler->Advance(plan);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++snapshot.steps;
  }

  // Sampling reads each sequence's own logits row and sampler only, so sequences are sampled in
  // parallel (a softmax over a 128k vocabulary is ~0.3 ms; serial, 8 of them idled the other
  // core); the results are the same on any thread. Emitting stays serial and in order.
  const auto n_vocab = static_cast<size_t>(model->config.n_vocab);
  std::vector<sched::Sequence*> to_sample;
  for (const auto& chunk : plan.chunks) {
    if (chunk.sample) to_sample.push_back(chunk.seq);
  }
  std::vector<sample::SampledToken> sampled(to_sample.size());
  auto sample_range = [&](size_t begin, size_t end) {
    for (size_t k = begin; k < end; ++k) {
      sched::Sequence* seq = to_sample[k];
      const std::span<const int32_t> prompt(seq->tokens.data(), static_cast<size_t>(seq->n_prompt));
      const std::span<const int32_t> output(seq->tokens.data() + seq->n_prompt, static_cast<size_t>(seq->n_generated()));
      sampled[k] = seq->sampler->Sample(logits.subspan(k * n_vocab, n_vocab), prompt, output,
                                        seq->json.get());
    }
  };
  if (to_sample.size() > 1) {
    pool->Run([&](int thread_index, int n_threads) {
      const auto [begin, end] = kernels::SplitRange(static_cast<int>(to_sample.size()), thread_index, n_threads);
      sample_range(static_cast<size_t>(begin), static_cast<size_t>(end));
    });
  } else {
    sample_range(0, to_sample.size());
  }
  for (size_t k = 0; k < to_sample.size(); ++k) {
    sched::Sequence* seq = to_sample[k];
    if (seq->json != nullptr && !(sampled[k].allowed && seq->json->Accept(sampled[k].id))) {
      Finish(seq, FinishReason::kError, "no token of the vocabulary can continue the JSON output");
      continue;
    }
    seq->tokens.push_back(sampled[k].id);
    if (seq->json == nullptr) WatchJsonTrigger(seq, sampled[k].id);
    EmitToken(seq, sampled[k]);
  }
}

void Engine::Impl::WatchJsonTrigger(sched::Sequence* seq, int32_t token) {
  const GenerationRequest& req = seq->request;
  if (req.json_trigger.empty() || !req.json_schema) return;
  const auto pieces = JsonPieces();
  std::string& window = seq->json_trigger_window;
  window += (*pieces)[static_cast<size_t>(token)];
  const size_t at = window.find(req.json_trigger);
  if (at == std::string::npos) {
    // Keep only a tail that may still begin the trigger.
    if (window.size() >= req.json_trigger.size())
      window.erase(0, window.size() - req.json_trigger.size() + 1);
    return;
  }
  auto json = std::make_unique<sample::JsonConstraint>(pieces, req.json_schema);
  const std::string after = window.substr(at + req.json_trigger.size());
  window.clear();
  // Bytes that came with the trigger's last token were chosen freely: when they cannot begin
  // the object, this opening stays free text.
  if (json->AcceptText(after)) seq->json = std::move(json);
}

void Engine::Impl::EmitToken(sched::Sequence* seq, const sample::SampledToken& token) {
  const auto& tok = *model->tokenizer;
  const GenerationRequest& req = seq->request;
  if (!req.ignore_eos && tok.IsEndOfGeneration(token.id)) {
    Finish(seq, FinishReason::kStop);
    return;
  }
  GenerationEvent ev;
  ev.text = seq->stop->Push(seq->detokenizer->Push(token.id));
  if (req.want_logprobs) ev.tokens.push_back({token.id, tok.TokenToPiece(token.id), token.logprob, token.top});
  const bool json_done = seq->json != nullptr && seq->json->complete();
  if (json_done && !req.json_trigger.empty()) seq->json.reset();  // lazy: free text again
  if (seq->stop->stopped() || (json_done && req.json_trigger.empty())) {
    if (!ev.text.empty() || !ev.tokens.empty()) seq->handle->Push(std::move(ev));
    Finish(seq, FinishReason::kStop);
    return;
  }
  if (!ev.text.empty() || !ev.tokens.empty()) seq->handle->Push(std::move(ev));
  if ((req.max_tokens > 0 && seq->n_generated() >= req.max_tokens) ||
      static_cast<int>(seq->tokens.size()) >= options.ctx_size) {
    Finish(seq, FinishReason::kLength);
  }
}

}  // namespace ts
