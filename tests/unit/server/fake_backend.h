// A scripted Backend for server tests: each request "generates" the words of `script`
// (one event each, `step` apart), then finishes with `finish`; a cancelled request ends
// with kCancelled at its next step. Uses the GPT-2 vocabulary fixture as its tokenizer.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/gguf/gguf.h"
#include "server/backend.h"

namespace ts::server::testing {

inline std::unique_ptr<tokenizer::Tokenizer> Gpt2Tokenizer() {
  const auto file = gguf::GgufFile::Open(std::string(TS_FIXTURES_DIR) + "/tokenizer/ggml-vocab-gpt-2.gguf");
  return tokenizer::Tokenizer::FromGguf(file);
}

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(std::vector<std::string> script,
                       std::chrono::milliseconds step = std::chrono::milliseconds(1))
      : script_(std::move(script)), step_(step), tok_(Gpt2Tokenizer()) {
    info_.id = "fake-model";
    info_.arch_name = "bitnet";
    info_.ctx_size = 64;
    info_.created = 1700000000;
  }
  ~FakeBackend() override {
    for (auto& t : threads_) t.join();
  }

  std::vector<std::shared_ptr<RequestHandle>> SubmitGroup(
      std::vector<GenerationRequest> requests) override {
    if (refuse_queue_full) throw QueueFullError("queue full");
    std::vector<std::shared_ptr<RequestHandle>> group;
    for (GenerationRequest& request : requests) group.push_back(Submit(std::move(request)));
    return group;
  }

  std::shared_ptr<RequestHandle> Submit(GenerationRequest request) {
    auto handle = std::make_shared<RequestHandle>(next_id_++);
    {
      std::lock_guard lock(mutex_);
      submitted.push_back(request);
      handles.push_back(handle);
    }
    const int prompt_tokens = static_cast<int>(request.prompt.size());
    threads_.emplace_back([this, handle, prompt_tokens, logprobs = request.want_logprobs] {
      int produced = 0;
      for (const std::string& word : script_) {
        std::this_thread::sleep_for(step_);
        if (handle->cancelled()) {
          GenerationEvent ev;
          ev.finished = true;
          ev.finish_reason = FinishReason::kCancelled;
          ev.prompt_tokens = prompt_tokens;
          ev.completion_tokens = produced;
          handle->Push(ev);
          ++cancelled_seen;
          return;
        }
        GenerationEvent ev;
        ev.text = word;
        if (logprobs) ev.tokens.push_back({100 + produced, word, -0.5f, {{100 + produced, -0.5f}, {7, -1.5f}}});
        handle->Push(ev);
        ++produced;
      }
      GenerationEvent last;
      last.finished = true;
      last.finish_reason = finish;
      last.prompt_tokens = prompt_tokens;
      last.completion_tokens = produced;
      handle->Push(last);
    });
    return handle;
  }
  EngineStats Stats() const override { return {}; }
  size_t SubmittedCount() {
    std::lock_guard lock(mutex_);
    return submitted.size();
  }
  const tokenizer::Tokenizer& Tokenizer() const override { return *tok_; }
  const ModelInfo& Info() const override { return info_; }
  void Shutdown(bool) override {}

  ModelInfo info_;
  FinishReason finish = FinishReason::kStop;
  bool refuse_queue_full = false;
  std::atomic<int> cancelled_seen{0};
  std::mutex mutex_;
  std::vector<GenerationRequest> submitted;
  std::vector<std::shared_ptr<RequestHandle>> handles;

 private:
  std::vector<std::string> script_;
  std::chrono::milliseconds step_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  std::vector<std::thread> threads_;
  uint64_t next_id_ = 1;
};

}  // namespace ts::server::testing
