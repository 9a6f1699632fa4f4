// Attention over an int8 KV cache per ISA: the scores of int8 queries and the weighted value sum
// of the 4 query heads sharing one KV head (BitNet-2B-4T's grouping, head_dim 128) over 2048
// cached positions in 16-token blocks, as PagedKvCache runs them for one layer and KV head;
// MACs per cycle.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/vector_ops.h"

namespace ts::kernels::bench {
namespace {

constexpr int kHeadDim = 128;
constexpr int kBlock = 16;
constexpr int kQueries = 4;

void BM_AttentionI8(benchmark::State& state) {
  const int isa = static_cast<int>(state.range(0));
  const int depth = static_cast<int>(state.range(1));
  if (!UseIsa(state, isa)) return;
  const VectorOps& ops = VectorOpsFor(static_cast<Isa>(isa));
  std::mt19937 rng(6);
  std::uniform_int_distribution<int> code(-127, 127);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<int8_t> keys(static_cast<size_t>(depth) * kHeadDim), values(keys.size());
  for (int8_t& c : keys) c = static_cast<int8_t>(code(rng));
  for (int8_t& c : values) c = static_cast<int8_t>(code(rng));
  std::vector<float> scales(static_cast<size_t>(depth), 0.01f), q_scales(kQueries, 0.02f);
  std::vector<std::vector<int8_t>> q(kQueries);
  std::vector<std::vector<float>> scores(kQueries), out(kQueries);
  std::vector<const int8_t*> q_ptr;
  std::vector<const float*> p_ptr(kQueries);
  std::vector<float*> score_ptr(kQueries), out_ptr;
  for (int i = 0; i < kQueries; ++i) {
    for (int d = 0; d < kHeadDim; ++d) q[i].push_back(static_cast<int8_t>(code(rng)));
    scores[i].assign(static_cast<size_t>(depth), 0.0f);
    out[i].assign(kHeadDim, 0.0f);
    q_ptr.push_back(q[i].data());
    out_ptr.push_back(out[i].data());
  }
  for (auto _ : state) {
    for (int p0 = 0; p0 < depth; p0 += kBlock) {
      for (int i = 0; i < kQueries; ++i) score_ptr[i] = scores[i].data() + p0;
      ops.key_scores_q8(keys.data() + static_cast<size_t>(p0) * kHeadDim, kBlock,
                        scales.data() + p0, kBlock, kHeadDim, q_ptr.data(), q_scales.data(),
                        kQueries, 0.1f, score_ptr.data());
    }
    for (int p0 = 0; p0 < depth; p0 += kBlock) {
      for (int i = 0; i < kQueries; ++i) p_ptr[i] = scores[i].data() + p0;
      ops.value_sum_q8(values.data() + static_cast<size_t>(p0) * kHeadDim, scales.data() + p0,
                       kBlock, kHeadDim, p_ptr.data(), kQueries, out_ptr.data());
    }
    benchmark::ClobberMemory();
  }
  const double macs = 2.0 * depth * kHeadDim * kQueries * static_cast<double>(state.iterations());
  state.SetLabel(IsaName(static_cast<Isa>(isa)));
  state.counters["MACs/cycle"] =
      benchmark::Counter(macs / CyclesPerSecond(), benchmark::Counter::kIsRate);
  ForceIsa(DetectBestIsa());
}
BENCHMARK(BM_AttentionI8)
    ->ArgNames({"isa", "depth"})
    ->ArgsProduct({{0, 1, 2}, {2048}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ts::kernels::bench
