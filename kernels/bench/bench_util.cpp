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

}  // namespace ts::kernels::bench
