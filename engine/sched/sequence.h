// One request's sequence as the scheduler and the engine loop see it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/engine.h"
#include "engine/sample/json_constraint.h"
#include "engine/sample/sampler.h"
#include "engine/sample/stop_matcher.h"
#include "engine/tokenizer/tokenizer.h"

namespace ts::sched {

struct Sequence {
  uint64_t id = 0;
  std::shared_ptr<RequestHandle> handle;
  GenerationRequest request;
  std::vector<int32_t> tokens;  // prompt followed by generated tokens
  int n_prompt = 0;
  int n_computed = 0;           // leading tokens whose K/V are in the cache
  int n_cached_prompt = 0;      // prompt tokens found in the prefix cache at first admission
  int slot = -1;                // KV slot while running
  bool admitted_once = false;
  FinishReason finish = FinishReason::kNone;

  std::unique_ptr<sample::Sampler> sampler;
  std::unique_ptr<tokenizer::IncrementalDetokenizer> detokenizer;
  std::unique_ptr<sample::StopMatcher> stop;
  std::unique_ptr<sample::JsonConstraint> json;  // JSON output, while it applies
  std::string json_trigger_window;  // lazy JSON: the free text's tail, to find the trigger in

  int n_generated() const { return static_cast<int>(tokens.size()) - n_prompt; }
  int n_uncomputed() const { return static_cast<int>(tokens.size()) - n_computed; }
};

}  // namespace ts::sched
