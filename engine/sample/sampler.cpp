#include "engine/sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "kernels/vector_ops.h"

namespace ts::sample {

double LogSumExp(std::span<const float> logits) {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float l : logits) max_logit = std::max(max_logit, l);
  if (!std::isfinite(max_logit)) return max_logit;
  // Max-subtracted, so every term is in (0, 1]; vectorized: it runs for every sampled token
  // over the whole vocabulary (std::exp cost ~0.6 ms at 128k).
  const double sum = kernels::ActiveVectorOps().exp_sum(
      logits.data(), static_cast<int>(logits.size()), max_logit, 1.0f, nullptr);
  return max_logit + std::log(sum);
}

std::vector<TokenLogprob> TopLogprobs(std::span<const float> logits, int n) {
  n = std::min<int>(n, static_cast<int>(logits.size()));
  if (n <= 0) return {};
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  });
  const double lse = LogSumExp(logits);
  std::vector<TokenLogprob> out;
  out.reserve(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    const int32_t id = ids[static_cast<size_t>(k)];
    out.push_back({id, static_cast<float>(logits[static_cast<size_t>(id)] - lse)});
  }
  return out;
}

Sampler::Sampler(const SamplingParams& params, int n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  if (n_vocab <= 0) throw std::invalid_argument("sampler needs a vocabulary");
  work_.resize(static_cast<size_t>(n_vocab));
}

double Sampler::Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

SampledToken Sampler::Sample(std::span<const float> logits, std::span<const int32_t> prompt,
                             std::span<const int32_t> output, const TokenConstraint* constraint) {
  if (logits.size() != static_cast<size_t>(n_vocab_)) throw std::invalid_argument("logits size != n_vocab");
  std::copy(logits.begin(), logits.end(), work_.begin());

  for (const auto& [id, bias] : params_.logit_bias) {
    if (id >= 0 && id < n_vocab_) work_[static_cast<size_t>(id)] += bias;
  }
  if (params_.repetition_penalty != 1.0f) {
    // Divide positive logits, multiply negative ones: both make the token less likely.
    auto penalize = [&](int32_t id) {
      if (id < 0 || id >= n_vocab_) return;
      float& l = work_[static_cast<size_t>(id)];
      l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
    };
    std::vector<int32_t> seen(prompt.begin(), prompt.end());
    seen.insert(seen.end(), output.begin(), output.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t id : seen) penalize(id);
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    output_counts_.clear();
    for (int32_t id : output) ++output_counts_[id];
    for (const auto& [id, count] : output_counts_) {
      if (id < 0 || id >= n_vocab_) continue;
      work_[static_cast<size_t>(id)] -=
          params_.presence_penalty + params_.frequency_penalty * static_cast<float>(count);
    }
  }

  SampledToken result;
  result.id = Choose(work_);
  if (constraint != nullptr && !constraint->Allows(result.id)) {
    // Only when the model's own choice breaks the constraint is the whole vocabulary checked
    // (1-2 ms at 128k tokens); with a model that follows the format this is rare.
    bool any_allowed = false;
    for (int32_t id = 0; id < n_vocab_; ++id) {
      float& l = work_[static_cast<size_t>(id)];
      if (l == -std::numeric_limits<float>::infinity()) continue;
      if (constraint->Allows(id)) {
        any_allowed = true;
      } else {
        l = -std::numeric_limits<float>::infinity();
      }
    }
    if (any_allowed) {
      result.id = Choose(work_);
    } else {
      result.allowed = false;
    }
  }
  const double lse = LogSumExp(logits);
  result.logprob = static_cast<float>(logits[static_cast<size_t>(result.id)] - lse);
  if (params_.n_top_logprobs > 0) result.top = TopLogprobs(logits, params_.n_top_logprobs);
  return result;
}

// Top-p needs the candidates in probability order only as far as the nucleus reaches, and the
// nucleus is usually a few dozen tokens: sorting all 128k candidates cost ~16 ms per token.
// So the candidates above 1e-4 of the best are moved to the front first (one pass); when they
// hold enough mass the nucleus is among them, as each is likelier than every one left out.
// Then the best `prefix` candidates are selected (nth_element, linear) and sorted, and the
// prefix grows 8x until its mass reaches top_p of the whole; the result is the same smallest
// prefix a full sort would give.
template <class RelProb, class ByLogit>
size_t Sampler::TopP(size_t n, double total, const RelProb& rel_prob, const ByLogit& by_logit) {
  const double target = static_cast<double>(params_.top_p) * total;
  const auto begin = candidates_.begin();
  const auto likely_end = std::partition(begin, begin + static_cast<long>(n),
                                         [&](int32_t id) { return rel_prob(id) >= 1e-4; });
  double likely_mass = 0.0;
  for (auto it = begin; it != likely_end; ++it) likely_mass += rel_prob(*it);
  if (likely_mass >= target) n = static_cast<size_t>(likely_end - begin);
  for (size_t prefix = std::min<size_t>(n, 64);; prefix = std::min(n, prefix * 8)) {
    if (prefix < n) {
      std::nth_element(begin, begin + static_cast<long>(prefix), begin + static_cast<long>(n),
                       by_logit);
    }
    std::sort(begin, begin + static_cast<long>(prefix), by_logit);
    double mass = 0.0;
    for (size_t keep = 0; keep < prefix; ++keep) {
      mass += rel_prob(candidates_[keep]);
      if (mass >= target) return keep + 1;
    }
    if (prefix == n) return std::max<size_t>(n, 1);  // rounding left the mass just short: keep all
  }
}

int32_t Sampler::Choose(std::vector<float>& work) {
  if (params_.temperature <= 0.0f) {
    // Greedy; ties go to the lowest id so results do not depend on the scan order.
    return static_cast<int32_t>(std::max_element(work.begin(), work.end()) - work.begin());
  }
  const float inv_temp = 1.0f / params_.temperature;
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float l : work) max_logit = std::max(max_logit, l);

  candidates_.resize(work.size());
  std::iota(candidates_.begin(), candidates_.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) {
    return work[static_cast<size_t>(a)] > work[static_cast<size_t>(b)] ||
           (work[static_cast<size_t>(a)] == work[static_cast<size_t>(b)] && a < b);
  };
  size_t n = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    std::nth_element(candidates_.begin(), candidates_.begin() + params_.top_k, candidates_.end(), by_logit);
    n = static_cast<size_t>(params_.top_k);
  }
  // Probabilities relative to the best token (p_max = 1), temperature applied, for the whole
  // vocabulary in one vectorized pass (std::exp per candidate cost ~1 ms per token at 128k).
  rel_.resize(work.size());
  const double total_all = kernels::ActiveVectorOps().exp_sum(
      work.data(), static_cast<int>(work.size()), max_logit, inv_temp, rel_.data());
  auto rel_prob = [&](int32_t id) { return static_cast<double>(rel_[static_cast<size_t>(id)]); };
  if (params_.min_p > 0.0f) {
    auto keep_end = std::partition(candidates_.begin(), candidates_.begin() + static_cast<long>(n),
                                   [&](int32_t id) { return rel_prob(id) >= params_.min_p; });
    n = static_cast<size_t>(keep_end - candidates_.begin());
  }
  if (params_.top_p < 1.0f) {
    double total = total_all;  // unless top-k or min-p dropped candidates
    if (n < work.size()) {
      total = 0.0;
      for (size_t k = 0; k < n; ++k) total += rel_prob(candidates_[k]);
    }
    n = TopP(n, total, rel_prob, by_logit);
  }
  double total = 0.0;
  for (size_t k = 0; k < n; ++k) total += rel_prob(candidates_[k]);
  const double r = Uniform() * total;
  double acc = 0.0;
  for (size_t k = 0; k < n; ++k) {
    acc += rel_prob(candidates_[k]);
    if (r < acc) return candidates_[k];
  }
  return candidates_[n - 1];
}

}  // namespace ts::sample
