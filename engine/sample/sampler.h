// Next-token selection for one sequence: logit processors (bias, repetition /
// presence / frequency penalties), then greedy or temperature sampling with
// top-k, top-p and min-p, from a per-sequence seeded RNG so that the same seed
// gives the same tokens. Also reports the chosen token's log-probability and
// the top-N alternatives (of the model's raw distribution, as OpenAI does).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ts::sample {

struct SamplingParams {
  float temperature = 1.0f;          // 0 = greedy
  int top_k = 0;                     // 0 = off
  float top_p = 1.0f;                // 1 = off
  float min_p = 0.0f;                // 0 = off; drop tokens with p < min_p * p_max
  float repetition_penalty = 1.0f;   // CTRL-style on prompt + output tokens; 1 = off
  float presence_penalty = 0.0f;     // OpenAI-style on output tokens
  float frequency_penalty = 0.0f;
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> added logit
  uint64_t seed = 0;
  int n_top_logprobs = 0;            // alternatives to report per token (0..20)
};

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t id = 0;
  bool allowed = true;             // false: the constraint allowed no token (id is unconstrained)
  float logprob = 0.0f;            // log p(id) under the raw model distribution
  std::vector<TokenLogprob> top;   // n_top_logprobs most likely tokens, best first
};

// Restricts which tokens may come next (e.g. JSON mode). Allows is called from the sampling
// thread only, for one sequence at a time.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  virtual bool Allows(int32_t id) const = 0;
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int n_vocab);

  // Returns the next token. logits: [n_vocab] raw model output.
  // prompt / output: the sequence so far (for penalties). constraint (may be null): the token
  // is chosen among those it allows, as if the others had probability 0.
  SampledToken Sample(std::span<const float> logits, std::span<const int32_t> prompt,
                      std::span<const int32_t> output, const TokenConstraint* constraint = nullptr);

  const SamplingParams& params() const { return params_; }

 private:
  int32_t Choose(std::vector<float>& work);
  // Puts the smallest set of best candidates among candidates_[0, n) whose probability mass
  // reaches top_p of `total` (their summed mass) first, best first; returns its size (>= 1).
  template <class RelProb, class ByLogit>
  size_t TopP(size_t n, double total, const RelProb& rel_prob, const ByLogit& by_logit);
  double Uniform();  // [0, 1), identical on every platform for a given seed

  SamplingParams params_;
  int n_vocab_;
  std::mt19937_64 rng_;
  std::vector<float> work_;                       // [n_vocab] processed logits
  std::vector<int32_t> candidates_;               // token ids being considered
  std::vector<float> rel_;                        // [n_vocab] p / p_max at the temperature
  std::unordered_map<int32_t, int> output_counts_;
};

// Returns the log-softmax value of each of the n best logits, best first.
std::vector<TokenLogprob> TopLogprobs(std::span<const float> logits, int n);
// Returns log-sum-exp of logits (for log-probabilities of arbitrary ids).
double LogSumExp(std::span<const float> logits);

}  // namespace ts::sample
