// Model conformance against the fixture models' reference logits
// (../shared/fixtures/README.md): the exact architecture check with float
// activations, and top-1 / KL agreement of the int8 engine per fixture.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/kv/dense_kv_cache.h"
#include "engine/model/forward.h"
#include "engine/model/model.h"
#include "engine/sample/sampler.h"

namespace ts::model {
namespace {

const std::string kModels = std::string(TS_FIXTURES_DIR) + "/models/";

struct Reference {
  std::vector<std::vector<int32_t>> sequences;
  std::vector<std::vector<std::pair<int32_t, float>>> top16;  // per position
  std::vector<float> logsumexp;                               // per position
  std::vector<float> full_logits;                             // [positions, n_vocab] or empty
};

Reference LoadReference(const std::string& name, int n_vocab) {
  Reference ref;
  std::ifstream in(kModels + name + ".expected.json");
  const auto j = nlohmann::json::parse(in);
  for (const auto& seq : j.at("sequences")) {
    ref.sequences.push_back(seq.at("ids").get<std::vector<int32_t>>());
    for (const auto& lse : seq.at("logsumexp")) ref.logsumexp.push_back(lse.get<float>());
    for (const auto& row : seq.at("top16")) {
      std::vector<std::pair<int32_t, float>> top;
      for (const auto& pair : row) top.emplace_back(pair[0].get<int32_t>(), pair[1].get<float>());
      ref.top16.push_back(top);
    }
  }
  std::ifstream logits(kModels + name + ".logits.f32", std::ios::binary);
  if (logits) {
    ref.full_logits.resize(ref.logsumexp.size() * static_cast<size_t>(n_vocab));
    logits.read(reinterpret_cast<char*>(ref.full_logits.data()),
                static_cast<std::streamsize>(ref.full_logits.size() * sizeof(float)));
    EXPECT_TRUE(logits) << "short logits file for " << name;
  }
  return ref;
}

// Logits of every position, each sequence teacher-forced in one batch from position 0.
std::vector<float> TeacherForced(const Model& m, const Reference& ref, bool float_activations) {
  const ModelConfig& c = m.config;
  kernels::ThreadPool pool(2);
  ForwardPass pass(c, m.weights, &pool, 256, float_activations);
  std::vector<float> out;
  for (const auto& ids : ref.sequences) {
    kv::DenseKvCache cache(c.n_layers, c.n_kv_heads, c.head_dim, c.n_heads, 1, static_cast<int>(ids.size()));
    std::vector<BatchToken> batch;
    for (size_t p = 0; p < ids.size(); ++p) batch.push_back({ids[p], static_cast<int32_t>(p), 0, true});
    const auto logits = pass.Run(batch, cache);
    out.insert(out.end(), logits.begin(), logits.end());
  }
  return out;
}

struct Agreement {
  double top1 = 0;     // fraction of positions with the same argmax
  double mean_kl = 0;  // mean KL(reference || ours), nats
  double max_abs = 0;  // max |logit difference| (full logits only)
};

// With full reference logits: exact KL. Without: KL of the two distributions restricted to the
// reference's top 16 (where the mass that matters is), and top-1 from the reference's best id.
Agreement Compare(const Reference& ref, const std::vector<float>& ours, int n_vocab) {
  Agreement a;
  const size_t n_pos = ref.logsumexp.size();
  for (size_t p = 0; p < n_pos; ++p) {
    std::span<const float> mine(ours.data() + p * n_vocab, static_cast<size_t>(n_vocab));
    const double lse_mine = sample::LogSumExp(mine);
    const auto best_mine = std::max_element(mine.begin(), mine.end()) - mine.begin();
    if (!ref.full_logits.empty()) {
      std::span<const float> theirs(ref.full_logits.data() + p * n_vocab, static_cast<size_t>(n_vocab));
      const double lse_ref = sample::LogSumExp(theirs);
      double kl = 0;
      for (int v = 0; v < n_vocab; ++v) {
        const double lp_ref = theirs[static_cast<size_t>(v)] - lse_ref;
        const double lp_mine = mine[static_cast<size_t>(v)] - lse_mine;
        kl += std::exp(lp_ref) * (lp_ref - lp_mine);
        a.max_abs = std::max(a.max_abs, static_cast<double>(std::fabs(theirs[static_cast<size_t>(v)] - mine[static_cast<size_t>(v)])));
      }
      a.mean_kl += kl;
      a.top1 += (std::max_element(theirs.begin(), theirs.end()) - theirs.begin()) == best_mine;
    } else {
      // Both distributions restricted to the reference's top 16 and renormalized there.
      std::vector<float> ref_top, mine_top;
      for (const auto& [id, logit] : ref.top16[p]) {
        ref_top.push_back(logit);
        mine_top.push_back(mine[static_cast<size_t>(id)]);
      }
      const double lse_ref_top = sample::LogSumExp(ref_top), lse_mine_top = sample::LogSumExp(mine_top);
      double kl = 0;
      for (size_t k = 0; k < ref_top.size(); ++k) {
        const double lp_ref = ref_top[k] - lse_ref_top;
        kl += std::exp(lp_ref) * (lp_ref - (mine_top[k] - lse_mine_top));
      }
      a.mean_kl += kl;
      a.top1 += ref.top16[p][0].first == best_mine;
    }
  }
  a.top1 /= static_cast<double>(n_pos);
  a.mean_kl /= static_cast<double>(n_pos);
  return a;
}

TEST(Conformance, FloatActivationsReproduceF32ReferenceExactly) {
  auto m = Model::Load({kModels + "tiny-v512-f32.gguf", HeadPrecision::kAuto});
  const Reference ref = LoadReference("tiny-v512-f32", m->config.n_vocab);
  const auto ours = TeacherForced(*m, ref, /*float_activations=*/true);
  const Agreement a = Compare(ref, ours, m->config.n_vocab);
  std::printf("tiny-v512-f32 float activations: max |d logit| %.5f, mean KL %.2e, top-1 %.3f\n", a.max_abs,
              a.mean_kl, a.top1);
  // The fixture README's independent float64 implementation reaches < 0.01 (KL 1e-6).
  EXPECT_LT(a.max_abs, 0.01);
  EXPECT_LT(a.mean_kl, 1e-5);
}

struct FixtureCase {
  const char* name;
  double min_top1;
  double max_kl;
};

// Thresholds from the fixture README's measurements, with headroom of a few flipped near-ties
// (one flip moves top-1 by 1/171 = 0.006) and ~1.5x on KL:
//  - f32 reference vs our int8 per-token activations: README int8-vs-float 0.96 / 3.9e-3
//    (we measure 0.959 / 3.89e-3: the same pass as the README's numpy int8 implementation).
//  - i2_s (bitnet.cpp, int8 per token): README bitnet.cpp-vs-numpy-int8 0.96 / 2.8e-3 (we: 0.959 / 2.84e-3).
//  - TQ fixtures (llama.cpp Q8_K activations, Q6_K head): README TQ-vs-float 0.93 / 9e-3; we
//    measure 0.947 / 3.9e-3 (tq2_0, tq1_0), 0.977 / 3.5e-3 (scaled), 0.935 top-1 (gpt2, top-16 KL).
class Int8Agreement : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(Int8Agreement, MatchesReferenceLogits) {
  const FixtureCase& fc = GetParam();
  auto m = Model::Load({kModels + fc.name + ".gguf", HeadPrecision::kAuto});
  const Reference ref = LoadReference(fc.name, m->config.n_vocab);
  const auto ours = TeacherForced(*m, ref, /*float_activations=*/false);
  const Agreement a = Compare(ref, ours, m->config.n_vocab);
  std::printf("%-32s int8 activations: top-1 %.3f, mean KL %.2e (thresholds %.2f / %.1e)\n", fc.name, a.top1,
              a.mean_kl, fc.min_top1, fc.max_kl);
  EXPECT_GE(a.top1, fc.min_top1);
  EXPECT_LE(a.mean_kl, fc.max_kl);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Int8Agreement,
                         ::testing::Values(FixtureCase{"tiny-v512-f32", 0.94, 6e-3},
                                           FixtureCase{"tiny-v512-i2_s", 0.94, 4.5e-3},
                                           FixtureCase{"tiny-v512-tq2_0", 0.92, 9e-3},
                                           FixtureCase{"tiny-v512-tq1_0", 0.92, 9e-3},
                                           FixtureCase{"tiny-v512-scaled-tq2_0-embf16", 0.92, 9e-3},
                                           FixtureCase{"tiny-gpt2-tq2_0", 0.90, 9e-3}),
                         [](const auto& param_info) {
                           std::string n = param_info.param.name;
                           for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return n;
                         });

}  // namespace
}  // namespace ts::model
