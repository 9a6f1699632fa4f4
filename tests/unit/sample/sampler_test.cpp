// Sampler: each logits processor and selection rule on hand-made logits.
#include "engine/sample/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "engine/sample/json_constraint.h"

namespace ts::sample {
namespace {

std::map<int32_t, int> Histogram(const SamplingParams& params, const std::vector<float>& logits, int draws) {
  Sampler s(params, static_cast<int>(logits.size()));
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i) ++counts[s.Sample(logits, {}, {}).id];
  return counts;
}

TEST(Sampler, GreedyPicksTheMaxAndLowestIdOnTies) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 4);
  EXPECT_EQ(s.Sample(std::vector<float>{1, 5, 2, 5}, {}, {}).id, 1);
}

TEST(Sampler, LogprobsAreOfTheRawDistribution) {
  SamplingParams p;
  p.temperature = 0;
  p.n_top_logprobs = 2;
  p.logit_bias = {{0, 100.0f}};  // changes the choice, not the reported distribution
  Sampler s(p, 3);
  const auto t = s.Sample(std::vector<float>{0, std::log(3.0f), 0}, {}, {});
  EXPECT_EQ(t.id, 0);
  EXPECT_NEAR(t.logprob, std::log(0.2), 1e-5);
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].id, 1);
  EXPECT_NEAR(t.top[0].logprob, std::log(0.6), 1e-5);
}

TEST(Sampler, TemperatureSamplingFollowsTheDistribution) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 3;
  const auto counts = Histogram(p, {0, std::log(3.0f)}, 8000);
  EXPECT_NEAR(counts.at(1) / 8000.0, 0.75, 0.03);
}

TEST(Sampler, TopKTopPMinPRestrictTheCandidates) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams p;
  p.seed = 1;
  p.top_k = 2;
  auto counts = Histogram(p, logits, 2000);
  EXPECT_EQ(counts.count(2) + counts.count(3), 0u);
  EXPECT_NEAR(counts.at(0) / 2000.0, 0.625, 0.05);
  p.top_k = 0;
  p.top_p = 0.75f;  // 0.5 alone is short of it; 0.5 + 0.3 reaches it
  counts = Histogram(p, logits, 2000);
  EXPECT_EQ(counts.count(2) + counts.count(3), 0u);
  p.top_p = 1.0f;
  p.min_p = 0.25f;  // keeps p >= 0.125
  counts = Histogram(p, logits, 2000);
  EXPECT_EQ(counts.count(3), 0u);
  EXPECT_GT(counts.count(2), 0u);
}

// A nucleus far larger than the first selection (64 candidates) in a 32k vocabulary: 1000
// tokens of weight 1 (ids 7, 38, 69, ...) over 31768 of weight exp(-10), total 1001.44.
// top_p 0.9 needs 901.3 of it: the 902 lowest-id heavy tokens, and nothing else.
TEST(Sampler, TopPKeepsExactlyTheNucleusOfALargeVocabulary) {
  constexpr int kVocab = 32768, kHeavy = 1000, kSpacing = 31, kNucleus = 902;
  std::vector<float> logits(kVocab, 0.0f);
  for (int k = 0; k < kHeavy; ++k) logits[static_cast<size_t>(7 + k * kSpacing)] = 10.0f;
  SamplingParams p;
  p.top_p = 0.9f;
  p.seed = 11;
  const auto counts = Histogram(p, logits, 1000);
  int max_rank = 0;
  for (const auto& [id, count] : counts) {
    ASSERT_EQ((id - 7) % kSpacing, 0) << "a light token was sampled: " << id;
    const int rank = (id - 7) / kSpacing;
    ASSERT_LT(rank, kNucleus) << "outside the nucleus";
    max_rank = std::max(max_rank, rank);
  }
  EXPECT_GT(max_rank, 850);        // the nucleus reaches far past the first selections
  EXPECT_GT(counts.size(), 500u);  // ~600 distinct of 902 expected in 1000 draws
}

// A nucleus that reaches deep into a flat tail of unlikely tokens (each 5e-5 of the best, under
// the 1e-4 shortcut): token 0 of weight 1 and 32767 of weight exp(-9.9), total 2.644. top_p
// 0.9 needs 2.380: token 0 and the 27498 lowest-id others.
TEST(Sampler, TopPReachesIntoAFlatTail) {
  constexpr int kVocab = 32768;
  std::vector<float> logits(kVocab, -9.9f);
  logits[0] = 0.0f;
  SamplingParams p;
  p.top_p = 0.9f;
  p.seed = 5;
  const auto counts = Histogram(p, logits, 300);
  int max_id = 0;
  for (const auto& [id, count] : counts) max_id = std::max(max_id, id);
  EXPECT_LE(max_id, 27499);  // +1 for rounding at the edge
  EXPECT_GT(max_id, 20000);
}

TEST(Sampler, PenaltiesAndBias) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;  // 4 -> 2 for a seen token
  Sampler rep(p, 3);
  EXPECT_EQ(rep.Sample(std::vector<float>{4, 3, 0}, std::vector<int32_t>{0}, {}).id, 1);
  p = SamplingParams{};
  p.temperature = 0;
  p.frequency_penalty = 0.6f;  // two occurrences: 4 - 1.2 < 3
  Sampler freq(p, 3);
  EXPECT_EQ(freq.Sample(std::vector<float>{4, 3, 0}, {}, std::vector<int32_t>{0, 0}).id, 1);
  EXPECT_EQ(freq.Sample(std::vector<float>{4, 3, 0}, {}, std::vector<int32_t>{0}).id, 0);
  p = SamplingParams{};
  p.temperature = 0;
  p.presence_penalty = 1.5f;
  Sampler pres(p, 3);
  EXPECT_EQ(pres.Sample(std::vector<float>{4, 3, 0}, {}, std::vector<int32_t>{0}).id, 1);
  p = SamplingParams{};
  p.temperature = 0;
  p.logit_bias = {{2, 10.0f}, {99, 5.0f}};  // an out-of-range id is ignored
  Sampler bias(p, 3);
  EXPECT_EQ(bias.Sample(std::vector<float>{4, 3, 0}, {}, {}).id, 2);
}

TEST(Sampler, SeedMakesSamplingReproducible) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(static_cast<double>(i) * 1.3));
  auto run = [&](uint64_t seed) {
    SamplingParams p;
    p.seed = seed;
    Sampler s(p, 50);
    std::vector<int32_t> ids;
    for (int i = 0; i < 30; ++i) ids.push_back(s.Sample(logits, {}, {}).id);
    return ids;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, RejectsWrongLogitsSize) {
  Sampler s(SamplingParams{}, 3);
  EXPECT_THROW(s.Sample(std::vector<float>{1, 2}, {}, {}), std::invalid_argument);
}

// Allows a fixed set of ids.
class AllowSet : public TokenConstraint {
 public:
  explicit AllowSet(std::vector<int32_t> ids) : ids_(std::move(ids)) {}
  bool Allows(int32_t id) const override {
    return std::find(ids_.begin(), ids_.end(), id) != ids_.end();
  }

 private:
  std::vector<int32_t> ids_;
};

TEST(Sampler, ConstraintRestrictsTheChoiceAndKeepsTheRawLogprob) {
  const std::vector<float> logits = {5, 1, 2, 0, 3};
  SamplingParams greedy;
  greedy.temperature = 0;
  Sampler g(greedy, 5);
  const AllowSet odd({1, 3});
  const SampledToken t = g.Sample(logits, {}, {}, &odd);
  EXPECT_TRUE(t.allowed);
  EXPECT_EQ(t.id, 1);  // the best allowed, not the best
  EXPECT_NEAR(t.logprob, logits[1] - LogSumExp(logits), 1e-5);

  SamplingParams warm;  // with temperature, top-k, top-p and min-p: only allowed ids come out
  warm.temperature = 1.5f;
  warm.top_k = 3;
  warm.top_p = 0.9f;
  warm.min_p = 0.01f;
  Sampler w(warm, 5);
  for (int i = 0; i < 200; ++i) {
    const int32_t id = w.Sample(logits, {}, {}, &odd).id;
    EXPECT_TRUE(id == 1 || id == 3) << id;
  }

  const AllowSet none({});
  EXPECT_FALSE(g.Sample(logits, {}, {}, &none).allowed);
}

TEST(Sampler, JsonConstraintBuildsAnObjectFromTokenPieces) {
  // A toy vocabulary whose best token is never valid JSON: the sampler must still produce an
  // object, from the pieces that fit, ending when it closes.
  auto pieces =
      std::make_shared<TokenPieces>(TokenPieces{"hello", "{", "\"k\"", ":", "1", "}", ""});
  JsonConstraint json(pieces, std::make_shared<const JsonSchema>(JsonSchema::AnyObject()));
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 7);
  // Preference order: "hello" (never valid), the empty piece (never allowed), "}" then the rest.
  const std::vector<float> logits = {9, 1, 2, 3, 4, 5, 8};
  std::string text;
  for (int step = 0; step < 10 && !json.complete(); ++step) {
    const SampledToken t = s.Sample(logits, {}, {}, &json);
    ASSERT_TRUE(t.allowed);
    ASSERT_TRUE(json.Accept(t.id));
    text += (*pieces)[static_cast<size_t>(t.id)];
  }
  EXPECT_EQ(text, "{}");
  EXPECT_TRUE(json.complete());
  EXPECT_FALSE(json.Allows(5));
  EXPECT_FALSE(json.Accept(0));
  EXPECT_FALSE(json.Allows(-1));
  EXPECT_FALSE(json.Allows(7));
}

}  // namespace
}  // namespace ts::sample
