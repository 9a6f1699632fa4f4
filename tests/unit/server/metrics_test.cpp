#include "server/metrics.h"

#include <gtest/gtest.h>

namespace ts::server {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(Metrics, CountersAndHistograms) {
  Metrics m;
  m.CountRequest("/v1/chat/completions", 200);
  m.CountRequest("/v1/chat/completions", 200);
  m.CountRequest("/v1/completions", 400);
  m.AddTokens(10, 5);
  m.ObserveTimeToFirstToken(0.03);
  m.ObserveTimeToFirstToken(100);
  m.ObserveInterTokenLatency(0.004);
  m.SetHttpWorkers(7);
  const std::string text = m.Render(std::nullopt);
  EXPECT_TRUE(Has(text, "ternserve_http_workers 7\n"));
  EXPECT_TRUE(Has(text, "# TYPE ternserve_requests_total counter\n"));
  EXPECT_TRUE(Has(text, "ternserve_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 2\n"));
  EXPECT_TRUE(Has(text, "ternserve_requests_total{endpoint=\"/v1/completions\",status=\"400\"} 1\n"));
  EXPECT_TRUE(Has(text, "ternserve_prompt_tokens_total 10\n"));
  EXPECT_TRUE(Has(text, "ternserve_generated_tokens_total 5\n"));
  EXPECT_TRUE(Has(text, "# TYPE ternserve_time_to_first_token_seconds histogram\n"));
  EXPECT_TRUE(Has(text, "ternserve_time_to_first_token_seconds_bucket{le=\"0.025\"} 0\n"));
  EXPECT_TRUE(Has(text, "ternserve_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n"));
  EXPECT_TRUE(Has(text, "ternserve_time_to_first_token_seconds_bucket{le=\"60\"} 1\n"));
  EXPECT_TRUE(Has(text, "ternserve_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2\n"));
  EXPECT_TRUE(Has(text, "ternserve_time_to_first_token_seconds_count 2\n"));
  EXPECT_TRUE(Has(text, "ternserve_inter_token_latency_seconds_bucket{le=\"0.005\"} 1\n"));
  EXPECT_TRUE(Has(text, "ternserve_model_loaded 0\n"));
  EXPECT_FALSE(Has(text, "ternserve_kv_blocks_used"));
}

TEST(Metrics, EngineGauges) {
  Metrics m;
  EngineStats s;
  s.waiting = 3;
  s.running = 2;
  s.kv_blocks_total = 100;
  s.kv_blocks_used = 7;
  s.kv_blocks_cached = 4;
  s.prefix_queries = 10;
  s.prefix_hits = 4;
  s.preemptions = 1;
  const std::string text = m.Render(s);
  EXPECT_TRUE(Has(text, "ternserve_queue_depth 3\n"));
  EXPECT_TRUE(Has(text, "ternserve_running_sequences 2\n"));
  EXPECT_TRUE(Has(text, "ternserve_kv_blocks_total 100\n"));
  EXPECT_TRUE(Has(text, "ternserve_kv_blocks_used 7\n"));
  EXPECT_TRUE(Has(text, "ternserve_kv_blocks_cached 4\n"));
  EXPECT_TRUE(Has(text, "ternserve_prefix_cache_hit_rate 0.4\n"));
  EXPECT_TRUE(Has(text, "ternserve_preemptions_total 1\n"));
  EXPECT_TRUE(Has(text, "ternserve_model_loaded 1\n"));
  // Every sample line belongs to a metric announced by # TYPE.
  size_t pos = 0;
  while ((pos = text.find('\n', pos)) != std::string::npos && pos + 1 < text.size()) {
    ++pos;
    ASSERT_NE(text[pos], ' ');
  }
}

}  // namespace
}  // namespace ts::server
