// Ternary GEMV/GEMM for the BitNet-b1.58-2B-4T shapes, per ISA.
// GEMV (1 token) reports GB/s of packed weights streamed (decode is memory bound);
// GEMM reports int8 MACs per cycle (prefill / batched decode are compute bound).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/bench/bench_util.h"
#include "kernels/quantize.h"
#include "kernels/ternary_gemm.h"

namespace ts::kernels::bench {
namespace {

void BM_TernaryGemm(benchmark::State& state) {
  const int isa = static_cast<int>(state.range(0));
  const int n_rows = static_cast<int>(state.range(1));
  const int n_cols = static_cast<int>(state.range(2));
  const int n_tokens = static_cast<int>(state.range(3));
  const bool cold = state.range(4) != 0;
  if (!UseIsa(state, isa)) return;

  std::mt19937 rng(42);
  const std::vector<int8_t> trits = RandomTrits(n_rows, n_cols, rng);
  const TernaryMatrix first = PackTernary(trits.data(), n_rows, n_cols, 1.0f);
  // Replicate so the weights do not fit in the last-level cache (for GEMV, where it matters).
  const size_t n_copies = cold ? std::max<size_t>(1, kColdBytes / first.bytes()) : 1;
  std::vector<TernaryMatrix> copies;
  for (size_t i = 0; i < n_copies; ++i) copies.push_back(PackTernary(trits.data(), n_rows, n_cols, 1.0f));

  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens) * n_cols);
  for (float& v : x) v = dist(rng);
  QuantizedActivations xq;
  QuantizeActivations(x.data(), n_tokens, n_cols, n_cols, &xq);
  std::vector<float> y(static_cast<size_t>(n_tokens) * n_rows);
  ThreadPool& pool = BenchPool();

  size_t next = 0;
  for (auto _ : state) {
    TernaryGemm(copies[next], xq, y.data(), n_rows, &pool);
    next = next + 1 == copies.size() ? 0 : next + 1;
    benchmark::ClobberMemory();
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(first.bytes()) * iterations / 1e9,
                                              benchmark::Counter::kIsRate);
  const double macs = static_cast<double>(n_rows) * n_cols * n_tokens * iterations;
  state.counters["MACs/cycle"] =
      benchmark::Counter(macs / CyclesPerSecond(), benchmark::Counter::kIsRate);
  state.counters["MACs/cycle/core"] = benchmark::Counter(
      macs / CyclesPerSecond() / pool.n_threads(), benchmark::Counter::kIsRate);
  state.counters["Gweights/s"] = benchmark::Counter(
      static_cast<double>(n_rows) * n_cols * n_tokens * iterations / 1e9, benchmark::Counter::kIsRate);
  state.counters["tok/s"] = benchmark::Counter(n_tokens * iterations, benchmark::Counter::kIsRate);
  ForceIsa(DetectBestIsa());
}

void TernaryArgs(benchmark::internal::Benchmark* b) {
  // cold = 1: weights replicated beyond L3 (decode and batched decode reality); cold = 0: one
  // cache-warm copy (the kernel's compute ceiling).
  b->ArgNames({"isa", "rows", "cols", "tokens", "cold"});
  const int shapes[][2] = {{2560, 2560}, {640, 2560}, {6912, 2560}, {2560, 6912}};
  for (int tokens : {1, 4, 8, 16, 128}) {
    for (const auto& shape : shapes) {
      for (int isa : {0, 1, 2, 3}) {
        if (isa == 0 && tokens > 8) continue;  // scalar at 128 tokens takes seconds per call
        b->Args({isa, shape[0], shape[1], tokens, tokens == 128 ? 0 : 1});
        if (tokens < 128) b->Args({isa, shape[0], shape[1], tokens, 0});
      }
    }
  }
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_TernaryGemm)->Apply(TernaryArgs);

// Quantization of one activation batch (per token absmax + int8), per ISA.
void BM_Quantize(benchmark::State& state) {
  const int isa = static_cast<int>(state.range(0));
  const int n_cols = static_cast<int>(state.range(1));
  const int n_tokens = static_cast<int>(state.range(2));
  if (!UseIsa(state, isa)) return;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens) * n_cols);
  for (float& v : x) v = dist(rng);
  QuantizedActivations xq;
  for (auto _ : state) {
    QuantizeActivations(x.data(), n_tokens, n_cols, n_cols, &xq);
    benchmark::DoNotOptimize(xq.q.data());
  }
  state.counters["values/s"] = benchmark::Counter(
      static_cast<double>(x.size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
  ForceIsa(DetectBestIsa());
}
BENCHMARK(BM_Quantize)
    ->ArgNames({"isa", "cols", "tokens"})
    ->Args({0, 2560, 1})->Args({1, 2560, 1})->Args({2, 2560, 1})
    ->Args({0, 6912, 8})->Args({1, 6912, 8})->Args({2, 6912, 8});

// Cost of one ThreadPool::Run with an empty body: the fixed price of every threaded kernel call
// (a decode step makes ~7 per layer).
void BM_PoolRun(benchmark::State& state) {
  ThreadPool& pool = BenchPool();
  for (auto _ : state) pool.Run([](int, int) {});
  state.SetLabel(std::to_string(pool.n_threads()) + " threads");
}
BENCHMARK(BM_PoolRun)->UseRealTime();

// Achievable read bandwidth with the same pool: the yardstick for the GEMV GB/s numbers.
void BM_MemoryRead(benchmark::State& state) {
  const size_t n = kColdBytes / sizeof(uint64_t);
  AlignedBuffer<uint64_t> data(n);  // huge pages, as the weights and ternserve-cli bench's probe
  ThreadPool& pool = BenchPool();
  std::vector<uint64_t> sums(static_cast<size_t>(pool.n_threads()));
  for (auto _ : state) {
    pool.Run([&](int thread_index, int n_threads) {
      const auto [begin, end] = SplitRange(static_cast<int>(n / 8), thread_index, n_threads);
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = static_cast<size_t>(begin) * 8; i < static_cast<size_t>(end) * 8; i += 8) {
        s0 += data[i] + data[i + 4];
        s1 += data[i + 1] + data[i + 5];
        s2 += data[i + 2] + data[i + 6];
        s3 += data[i + 3] + data[i + 7];
      }
      sums[static_cast<size_t>(thread_index)] = s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(kColdBytes) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MemoryRead)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ts::kernels::bench
