// Attention of one decoding token over a PagedKvCache at depth, as the forward pass runs it:
// every layer and query head of BitNet-2B-4T's shape (30 layers, 20 query / 5 KV heads of 128)
// over a q8 cache in 16-token blocks, on one core. Unlike BM_AttentionI8 (kernels/bench: one
// layer's contiguous keys in L2), the blocks here are spread over the pool like a real cache's
// and, past ~800 positions, the whole KV (39.6 KB per position) no longer fits in L3.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "engine/kv/paged_kv_cache.h"
#include "kernels/bench/bench_util.h"

namespace ts::kv {
namespace {

constexpr KvShape kShape{30, 20, 5, 128};
constexpr int kBlockSize = 16;

// Where slot 0's blocks sit in the pool.
enum Arrangement { kAdjacent = 0, kScattered = 1, kDescending = 2 };

// Returns a cache whose slot 0 holds `depth` positions of random keys and values: in consecutive
// blocks, scattered over a pool other sequences have fragmented, or in descending blocks taken
// back from the prefix cache (the LRU list returns a finished sequence's blocks last-first).
const PagedKvCache& FilledCache(int depth, Arrangement arrangement) {
  static std::map<std::pair<int, int>, std::unique_ptr<PagedKvCache>> caches;
  auto& cache = caches[{depth, arrangement}];
  if (cache) return *cache;
  const int n_blocks = depth / kBlockSize + 1;
  const int pool_blocks = arrangement == kScattered ? 2 * n_blocks : n_blocks;
  const int n_slots = arrangement == kScattered ? 1 + pool_blocks : 2;
  cache = std::make_unique<PagedKvCache>(kShape, KvType::kQ8, kBlockSize, pool_blocks, n_slots,
                                         depth + kBlockSize);
  if (arrangement == kScattered) {
    // One block for each other slot, then every other slot's back: slot 0 gets those, spread
    // over the pool.
    for (int s = 1; s < n_slots; ++s) cache->Reserve(s, 1);
    for (int s = 1; s < n_slots; s += 2) cache->Release(s);
  } else if (arrangement == kDescending) {
    std::vector<int32_t> tokens(static_cast<size_t>(n_blocks * kBlockSize));
    for (size_t t = 0; t < tokens.size(); ++t) tokens[t] = static_cast<int32_t>(t);
    cache->Reserve(1, n_blocks * kBlockSize);
    cache->CommitFullBlocks(1, tokens, n_blocks * kBlockSize);
    cache->Release(1);
  }
  if (!cache->Reserve(0, depth)) throw std::runtime_error("kv bench: pool too small");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  const int kv_dim = kShape.n_kv_heads * kShape.head_dim;
  std::vector<float> k(static_cast<size_t>(kv_dim)), v(k.size());
  for (int pos = 0; pos < depth; ++pos) {
    for (int layer = 0; layer < kShape.n_layers; ++layer) {
      for (float& x : k) x = dist(rng);
      for (float& x : v) x = dist(rng);
      cache->Write(layer, 0, pos, k.data(), v.data());
    }
  }
  return *cache;
}

void BM_DecodeAttention(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  const PagedKvCache& cache = FilledCache(depth, static_cast<Arrangement>(state.range(1)));
  const int q_dim = kShape.n_heads * kShape.head_dim;
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> q(static_cast<size_t>(q_dim)), out(q.size());
  for (float& x : q) x = dist(rng);
  std::vector<float> scratch(static_cast<size_t>(depth) * (kShape.n_heads / kShape.n_kv_heads));
  for (auto _ : state) {
    for (int layer = 0; layer < kShape.n_layers; ++layer) {
      cache.AttendRun(layer, 0, depth - 1, 1, q.data(), q_dim, 0, kShape.n_heads, out.data(),
                      scratch.data());
    }
    benchmark::DoNotOptimize(out.data());
  }
  const double iterations = static_cast<double>(state.iterations());
  // Scores and weighted values: 2 multiply-adds per position, dimension and query head.
  const double macs = 2.0 * kShape.n_layers * kShape.n_heads * kShape.head_dim * depth;
  const double bytes = static_cast<double>(KvBytesPerToken(kShape, KvType::kQ8)) * depth;
  state.counters["MACs/cycle"] = benchmark::Counter(
      macs * iterations / kernels::bench::CyclesPerSecond(), benchmark::Counter::kIsRate);
  state.counters["GB/s"] =
      benchmark::Counter(bytes * iterations / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeAttention)
    ->ArgNames({"depth", "arrangement"})
    ->ArgsProduct({{512, 4096}, {kAdjacent, kScattered, kDescending}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ts::kv
