#include "kernels/bench/bench_util.h"

#include <cstdlib>
#include <string>

namespace ts::kernels::bench {

bool UseIsa(benchmark::State& state, int isa_arg) {
  const Isa isa = static_cast<Isa>(isa_arg);
  if (isa > DetectBestIsa()) {
    state.SkipWithError((std::string(IsaName(isa)) + " not supported by this CPU").c_str());
    return false;
  }
  ForceIsa(isa);
  state.SetLabel(IsaName(isa));
  return true;
}

ThreadPool& BenchPool() {
  // TS_BENCH_THREADS overrides the thread count (e.g. 1 to measure one core on a busy machine).
  static ThreadPool pool([] {
    const char* env = std::getenv("TS_BENCH_THREADS");
    return env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : DefaultThreadCount();
  }());
  return pool;
}

double CyclesPerSecond() {
  // The measured clock, not the nominal one Google Benchmark reads (2.45 GHz on the dev box,
  // which runs at ~3.2): MACs per cycle should be per real cycle.
  static const double hz = [] {
    const double measured = MeasureCoreHz();
    return measured > 0 ? measured : benchmark::CPUInfo::Get().cycles_per_second;
  }();
  return hz;
}

std::vector<int8_t> RandomTrits(int n_rows, int n_cols, std::mt19937& rng) {
  std::uniform_int_distribution<int> trit(-1, 1);
  std::vector<int8_t> trits(static_cast<size_t>(n_rows) * n_cols);
  for (int8_t& t : trits) t = static_cast<int8_t>(trit(rng));
  return trits;
}

int32_t RandomActivations(int n, std::mt19937& rng, int8_t* x) {
  std::uniform_int_distribution<int> level(-128, 127);
  int32_t sum = 0;
  for (int c = 0; c < n; ++c) {
    x[c] = static_cast<int8_t>(level(rng));
    sum += x[c];
  }
  return sum;
}

bool DotsMatch(const std::vector<int8_t>& trits, const int8_t* x, int n_rows, int n_cols,
               const int32_t* dots) {
  for (int r = 0; r < n_rows; ++r) {
    int32_t want = 0;
    for (int c = 0; c < n_cols; ++c) want += trits[static_cast<size_t>(r) * n_cols + c] * x[c];
    if (dots[r] != want) return false;
  }
  return true;
}

}  // namespace ts::kernels::bench
