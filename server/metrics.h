// Prometheus text exposition (format 0.0.4) of the server's counters and histograms and
// of the engine's state. Thread-safe; counters are updated from HTTP threads.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"

namespace ts::server {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Appends `# HELP`, `# TYPE` and the _bucket/_sum/_count lines.
  void Render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void CountRequest(const std::string& endpoint, int status);
  void AddTokens(uint64_t prompt_tokens, uint64_t generated_tokens);
  void ObserveTimeToFirstToken(double seconds);
  void ObserveInterTokenLatency(double seconds);
  void ObserveRequestDuration(double seconds);
  void CountClientDisconnect();
  void SetHttpWorkers(size_t n);  // threads of the HTTP worker pool alive now

  // Returns the exposition text; engine gauges only when `engine` is given (model loaded).
  std::string Render(const std::optional<EngineStats>& engine) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (endpoint, status) -> count
  uint64_t prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  uint64_t disconnects_ = 0;
  size_t http_workers_ = 0;
  Histogram ttft_;
  Histogram inter_token_;
  Histogram duration_;
};

}  // namespace ts::server
