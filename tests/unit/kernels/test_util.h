// Helpers shared by the kernel tests: ISAs to test, an RAII ISA override, random data.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu.h"

namespace ts::kernels::testing {

// Returns every ISA up to the best one the CPU supports (scalar first).
inline std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas = {Isa::kScalar};
  if (DetectBestIsa() >= Isa::kAvx2) isas.push_back(Isa::kAvx2);
  if (DetectBestIsa() >= Isa::kAvx512) isas.push_back(Isa::kAvx512);
  if (DetectBestIsa() >= Isa::kAmx) isas.push_back(Isa::kAmx);
  return isas;
}

// Forces an ISA for a scope and restores the previous one.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(ActiveIsa()) { ForceIsa(isa); }
  ~ScopedIsa() { ForceIsa(previous_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<int8_t> RandomTrits(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-1, 1);
  std::vector<int8_t> v(n);
  for (int8_t& t : v) t = static_cast<int8_t>(dist(rng));
  return v;
}

}  // namespace ts::kernels::testing
