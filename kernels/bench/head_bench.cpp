// Head (vocab x d_model) GEMV/GEMM per type and ISA; GB/s of weights streamed (1 token is
// memory bound) and multiply-adds per cycle and core (64 tokens are compute bound).
// 32768 x 2560 rows: F16 160 MB, Q8 90 MB — beyond L3, like the real 128256-row head.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/f16.h"
#include "kernels/head.h"

namespace ts::kernels::bench {
namespace {

constexpr int kVocab = 32768;
constexpr int kDModel = 2560;

const HeadMatrix& Head(HeadType type) {
  static std::vector<HeadMatrix> heads = [] {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<uint16_t> bits(static_cast<size_t>(kVocab) * kDModel);
    for (uint16_t& b : bits) b = F32ToF16(dist(rng));
    std::vector<HeadMatrix> out;
    for (HeadType t : {HeadType::kF32, HeadType::kF16, HeadType::kQ8, HeadType::kQ4}) {
      out.push_back(HeadFromF16(bits.data(), kVocab, kDModel, t));
    }
    return out;
  }();
  return heads[static_cast<size_t>(type)];
}

void BM_HeadGemm(benchmark::State& state) {
  const int isa = static_cast<int>(state.range(0));
  const HeadType type = static_cast<HeadType>(state.range(1));
  const int n_tokens = static_cast<int>(state.range(2));
  if (!UseIsa(state, isa)) return;
  const HeadMatrix& w = Head(type);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens) * kDModel);
  for (float& v : x) v = dist(rng);
  std::vector<float> logits(static_cast<size_t>(n_tokens) * kVocab);
  ThreadPool& pool = BenchPool();
  for (auto _ : state) {
    HeadGemm(w, x.data(), n_tokens, kDModel, logits.data(), kVocab, &pool);
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(IsaName(static_cast<Isa>(isa))) + "/" + HeadTypeName(type));
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(w.bytes()) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
  // Several tokens are compute bound: multiply-adds per cycle say how far from the pipes.
  const double macs =
      static_cast<double>(w.n_rows) * w.n_cols * n_tokens * static_cast<double>(state.iterations());
  state.counters["MACs/cycle/core"] =
      benchmark::Counter(macs / CyclesPerSecond() / pool.n_threads(), benchmark::Counter::kIsRate);
  ForceIsa(DetectBestIsa());
}
BENCHMARK(BM_HeadGemm)
    ->ArgNames({"isa", "type", "tokens"})
    ->ArgsProduct({{1, 2, 3}, {0, 1, 2, 3}, {1, 4, 8, 64}})
    ->Args({0, 1, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ts::kernels::bench
