#include "server/metrics.h"

#include <cstdio>

namespace ts::server {
namespace {

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void Header(std::string* out, const std::string& name, const char* type, const std::string& help) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void Scalar(std::string* out, const std::string& name, const char* type, const std::string& help,
            double value) {
  Header(out, name, type, help);
  *out += name + " " + Num(value) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::Render(const std::string& name, const std::string& help, std::string* out) const {
  Header(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    *out += name + "_bucket{le=\"" + Num(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  *out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  *out += name + "_sum " + Num(sum_) + "\n";
  *out += name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      inter_token_({0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5}),
      duration_({0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}) {}

void Metrics::CountRequest(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

void Metrics::AddTokens(uint64_t prompt_tokens, uint64_t generated_tokens) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += prompt_tokens;
  generated_tokens_ += generated_tokens;
}

void Metrics::ObserveTimeToFirstToken(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.Observe(seconds);
}

void Metrics::ObserveInterTokenLatency(double seconds) {
  std::lock_guard lock(mutex_);
  inter_token_.Observe(seconds);
}

void Metrics::ObserveRequestDuration(double seconds) {
  std::lock_guard lock(mutex_);
  duration_.Observe(seconds);
}

void Metrics::CountClientDisconnect() {
  std::lock_guard lock(mutex_);
  ++disconnects_;
}

void Metrics::SetHttpWorkers(size_t n) {
  std::lock_guard lock(mutex_);
  http_workers_ = n;
}

std::string Metrics::Render(const std::optional<EngineStats>& engine) const {
  std::string out;
  {
    std::lock_guard lock(mutex_);
    Header(&out, "ternserve_requests_total", "counter", "HTTP requests by endpoint and status.");
    for (const auto& [key, count] : requests_) {
      out += "ternserve_requests_total{endpoint=\"" + key.first + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
    }
    Scalar(&out, "ternserve_prompt_tokens_total", "counter", "Prompt tokens of finished requests.",
           static_cast<double>(prompt_tokens_));
    Scalar(&out, "ternserve_generated_tokens_total", "counter",
           "Generated tokens of finished requests.", static_cast<double>(generated_tokens_));
    Scalar(&out, "ternserve_client_disconnects_total", "counter",
           "Requests cancelled because the client went away.", static_cast<double>(disconnects_));
    Scalar(&out, "ternserve_http_workers", "gauge",
           "HTTP worker threads alive (each open connection holds one while it is served).",
           static_cast<double>(http_workers_));
    ttft_.Render("ternserve_time_to_first_token_seconds",
                 "Time from request arrival to the first generated text.", &out);
    inter_token_.Render("ternserve_inter_token_latency_seconds",
                        "Time between consecutive streamed pieces of one sequence.", &out);
    duration_.Render("ternserve_request_duration_seconds",
                     "Time from arrival to the last token of generation requests.", &out);
  }
  Scalar(&out, "ternserve_model_loaded", "gauge", "1 once the model is loaded.", engine ? 1 : 0);
  if (!engine) return out;
  const EngineStats& s = *engine;
  Scalar(&out, "ternserve_queue_depth", "gauge", "Requests waiting for admission.", s.waiting);
  Scalar(&out, "ternserve_running_sequences", "gauge", "Sequences in the running batch.", s.running);
  Scalar(&out, "ternserve_kv_blocks_total", "gauge", "KV cache blocks in the pool.",
         static_cast<double>(s.kv_blocks_total));
  Scalar(&out, "ternserve_kv_blocks_used", "gauge", "KV blocks referenced by running sequences.",
         static_cast<double>(s.kv_blocks_used));
  Scalar(&out, "ternserve_kv_blocks_cached", "gauge", "Free KV blocks holding a reusable prefix.",
         static_cast<double>(s.kv_blocks_cached));
  Scalar(&out, "ternserve_kv_block_tokens", "gauge", "Tokens per KV block.",
         static_cast<double>(s.kv_block_tokens));
  Scalar(&out, "ternserve_prefix_cache_queries_total", "counter",
         "Full prompt blocks looked up in the prefix cache.", static_cast<double>(s.prefix_queries));
  Scalar(&out, "ternserve_prefix_cache_hits_total", "counter",
         "Prompt blocks found in the prefix cache.", static_cast<double>(s.prefix_hits));
  Scalar(&out, "ternserve_prefix_cache_hit_rate", "gauge", "prefix hits / prefix queries.",
         s.prefix_queries ? static_cast<double>(s.prefix_hits) / static_cast<double>(s.prefix_queries)
                          : 0.0);
  Scalar(&out, "ternserve_preemptions_total", "counter", "Sequences preempted for KV space.",
         static_cast<double>(s.preemptions));
  Scalar(&out, "ternserve_engine_requests_finished_total", "counter",
         "Requests the engine finished (any reason).", static_cast<double>(s.requests_finished));
  Scalar(&out, "ternserve_engine_prompt_tokens_total", "counter",
         "Prompt tokens processed by the engine.", static_cast<double>(s.prompt_tokens));
  Scalar(&out, "ternserve_engine_generated_tokens_total", "counter",
         "Tokens generated by the engine.", static_cast<double>(s.generated_tokens));
  Scalar(&out, "ternserve_engine_steps_total", "counter", "Scheduler steps run.",
         static_cast<double>(s.steps));
  return out;
}

}  // namespace ts::server
