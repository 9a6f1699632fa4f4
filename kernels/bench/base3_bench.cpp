// Experiment for issue #4: would a ~1.6-bit base-3 packing (5 trits per byte, like llama.cpp's
// TQ1_0, unpacked in registers) beat our 2-bit layout in decode on this machine? It moves 20%
// fewer bytes, but every byte needs far more work to unpack. This file packs a matrix that way,
// checks an AVX2 GEMV against a scalar dot product, and times it cold (weights beyond L3) next
// to BM_TernaryGemm's 2-bit GEMV. Compare the Gweights/s counters. Bench-only: nothing in the
// engine uses this layout (see kernels/README.md for the measured verdict).
//
// Layout: each row is groups of 160 columns in 32 bytes; digit i (0..4) of byte j holds column
// 32 * i + j of the group as d = t + 1 in {0, 1, 2}. A byte stores v = sum_i d_i * 3^(4 - i) as
// q = ceil(v * 256 / 243), so q / 256 is a base-3 fraction: digit i is floor(3 * m_i / 256) with
// m_0 = q and m_{i+1} = 3 * m_i mod 256 (TQ1_0's trick). Bytes are stored XOR 0x80 (m + 128):
// that form also triples mod 256 and turns the digit tests into signed byte compares.
#include <immintrin.h>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/bench/bench_util.h"
#include "kernels/quantize.h"

namespace ts::kernels::bench {
namespace {

constexpr int kGroupCols = 160;
constexpr int kGroupBytes = 32;

struct Base3Matrix {
  int n_rows = 0, n_cols = 0;          // n_cols a multiple of kGroupCols
  AlignedBuffer<uint8_t> packed;       // [n_rows][n_cols / 160][32]
  std::vector<int32_t> digit_sum;      // per row: sum of d = t + 1

  size_t row_bytes() const { return static_cast<size_t>(n_cols / kGroupCols) * kGroupBytes; }
};

Base3Matrix PackBase3(const std::vector<int8_t>& trits, int n_rows, int n_cols) {
  Base3Matrix w;
  w.n_rows = n_rows;
  w.n_cols = n_cols;
  w.packed.Resize(static_cast<size_t>(n_rows) * w.row_bytes());
  w.digit_sum.assign(static_cast<size_t>(n_rows), 0);
  for (int r = 0; r < n_rows; ++r) {
    for (int g = 0; g < n_cols / kGroupCols; ++g) {
      for (int j = 0; j < kGroupBytes; ++j) {
        int v = 0;
        for (int i = 0; i < 5; ++i) {
          const int d = trits[static_cast<size_t>(r) * n_cols + g * kGroupCols + 32 * i + j] + 1;
          v = v * 3 + d;
          w.digit_sum[static_cast<size_t>(r)] += d;
        }
        const int q = (v * 256 + 242) / 243;
        w.packed[static_cast<size_t>(r) * w.row_bytes() + g * kGroupBytes + j] =
            static_cast<uint8_t>(q ^ 0x80);
      }
    }
  }
  return w;
}

// Two rows at a time share each activation load. Products of (a + 128) <= 255 and -d >= -2 are
// summed in int16 for 6 groups (30 maddubs of at most 1020 each) before widening.
__attribute__((target("avx2"))) void Base3Gemv(const Base3Matrix& w, const uint8_t* x_offset,
                                               int32_t x_sum, int row_begin, int row_end,
                                               int32_t* dots) {
  const int n_groups = w.n_cols / kGroupCols;
  const __m256i one_digit = _mm256_set1_epi8(-43);  // m >= 86  <=>  m - 128 > -43
  const __m256i two_digits = _mm256_set1_epi8(42);  // m >= 171 <=>  m - 128 > 42
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r = row_begin; r < row_end; r += 2) {
    const uint8_t* rows[2] = {w.packed.data() + static_cast<size_t>(r) * w.row_bytes(),
                              w.packed.data() + static_cast<size_t>(r + 1) * w.row_bytes()};
    __m256i wide[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int g0 = 0; g0 < n_groups; g0 += 6) {
      const int g1 = g0 + 6 < n_groups ? g0 + 6 : n_groups;
      __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
      for (int g = g0; g < g1; ++g) {
        __m256i m[2];
        for (int k = 0; k < 2; ++k) {
          m[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(rows[k] + g * kGroupBytes));
        }
        for (int i = 0; i < 5; ++i) {
          const __m256i a = _mm256_load_si256(
              reinterpret_cast<const __m256i*>(x_offset + g * kGroupCols + 32 * i));
          for (int k = 0; k < 2; ++k) {
            const __m256i minus_d = _mm256_add_epi8(_mm256_cmpgt_epi8(m[k], one_digit),
                                                    _mm256_cmpgt_epi8(m[k], two_digits));
            acc[k] = _mm256_add_epi16(acc[k], _mm256_maddubs_epi16(a, minus_d));
            m[k] = _mm256_add_epi8(_mm256_add_epi8(m[k], m[k]), m[k]);
          }
        }
      }
      for (int k = 0; k < 2; ++k) wide[k] = _mm256_add_epi32(wide[k], _mm256_madd_epi16(acc[k], ones));
    }
    for (int k = 0; k < 2; ++k) {
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(wide[k]), _mm256_extracti128_si256(wide[k], 1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
      // sum((a + 128) * -d) = -(sum d a) - 128 sum d;  sum t a = sum d a - sum a.
      const int32_t minus = _mm_cvtsi128_si32(s);
      dots[r + k] = -minus - 128 * w.digit_sum[static_cast<size_t>(r + k)] - x_sum;
    }
  }
}

void BM_Base3Gemv(benchmark::State& state) {
  const int n_rows = static_cast<int>(state.range(0));
  const int n_cols = static_cast<int>(state.range(1));
  if (DetectBestIsa() < Isa::kAvx2) {
    state.SkipWithError("needs AVX2");
    return;
  }
  std::mt19937 rng(7);
  const std::vector<int8_t> trits = RandomTrits(n_rows, n_cols, rng);
  const Base3Matrix first = PackBase3(trits, n_rows, n_cols);
  const size_t bytes = first.packed.size();
  std::vector<Base3Matrix> copies;
  for (size_t i = 0; i < std::max<size_t>(1, kColdBytes / bytes); ++i) copies.push_back(PackBase3(trits, n_rows, n_cols));

  std::vector<int8_t> x(static_cast<size_t>(n_cols));
  const int32_t x_sum = RandomActivations(n_cols, rng, x.data());
  AlignedBuffer<uint8_t> x_offset(static_cast<size_t>(n_cols));
  for (int c = 0; c < n_cols; ++c) {
    x_offset[static_cast<size_t>(c)] = static_cast<uint8_t>(x[static_cast<size_t>(c)] + 128);
  }
  std::vector<int32_t> dots(static_cast<size_t>(n_rows));
  CheckAndTimeGemv(state, "base-3 GEMV disagrees with the scalar dot product", trits, x.data(),
                   dots.data(), copies, bytes, n_rows, n_cols, 2,
                   [&](const Base3Matrix& w, int r0, int r1) {
                     Base3Gemv(w, x_offset.data(), x_sum, r0, r1, dots.data());
                   });
}
BENCHMARK(BM_Base3Gemv)
    ->ArgNames({"rows", "cols"})
    ->Args({2560, 2560})
    ->Args({6912, 2560})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ts::kernels::bench
