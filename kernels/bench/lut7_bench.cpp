// Experiment for issue #4, the cheap-unpack side of "fewer bits": 4 trits in 7 bits (1.75 bits
// per weight, 12.5% fewer bytes than 2-bit) unpacked with three AVX-512 VBMI byte shuffles into
// exactly the 2-bit word the engine's GEMV already multiplies. Bench-only, like base3_bench.cpp:
// it checks itself against a scalar dot product and times a cold GEMV; compare its Gweights/s
// with BM_TernaryGemm's 2-bit GEMV (kernels/README.md has the verdict).
//
// Layout: each row is groups of 256 columns in 56 bytes. Code j (0..63) of a group is
// sum_k d_k * 3^k (0..80) with d_k = t + 1 of column 64 k + j; codes 8 i .. 8 i + 7 sit at bits
// 0, 7, .., 49 of the 7 bytes 7 i .. 7 i + 6. Unpacking: vpermb spreads each 7 bytes to a qword,
// vpmultishiftqb pulls the 8 codes out as bytes (their bit 7 belongs to the next code), and
// vpermi2b, which reads only 7 index bits, turns each code into the byte sum_k d_k << 2 k
// through a 128-entry table.

// GCC 12 warns inside its own VBMI intrinsics (_mm512_undefined) under a target attribute: the
// pragma must come before the header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/bench/bench_util.h"

namespace ts::kernels::bench {
namespace {

constexpr int kGroupCols = 256;
constexpr int kGroupBytes = 56;

struct Lut7Matrix {
  int n_rows = 0, n_cols = 0;     // n_cols a multiple of kGroupCols
  AlignedBuffer<uint8_t> packed;  // [n_rows][n_cols / 256][56], then 64 bytes of padding

  size_t row_bytes() const { return static_cast<size_t>(n_cols / kGroupCols) * kGroupBytes; }
};

Lut7Matrix PackLut7(const std::vector<int8_t>& trits, int n_rows, int n_cols) {
  Lut7Matrix w;
  w.n_rows = n_rows;
  w.n_cols = n_cols;
  w.packed.Resize(static_cast<size_t>(n_rows) * w.row_bytes() + 64);
  for (int r = 0; r < n_rows; ++r) {
    for (int g = 0; g < n_cols / kGroupCols; ++g) {
      uint8_t* group = w.packed.data() + static_cast<size_t>(r) * w.row_bytes() + g * kGroupBytes;
      for (int i = 0; i < 8; ++i) {
        uint64_t bits = 0;
        for (int j = 0; j < 8; ++j) {
          uint64_t code = 0;
          for (int k = 3; k >= 0; --k) {
            const int col = g * kGroupCols + 64 * k + 8 * i + j;
            code =
                code * 3 + static_cast<uint64_t>(trits[static_cast<size_t>(r) * n_cols + col] + 1);
          }
          bits |= code << (7 * j);
        }
        for (int b = 0; b < 7; ++b) group[7 * i + b] = static_cast<uint8_t>(bits >> (8 * b));
      }
    }
  }
  return w;
}

#define TS_LUT7_TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vnni")))

// 4 rows at a time share each activation load; per row and field k a vpdpbusd of the masked
// word (code_k * 4^k) as in the engine's GEMV, rescaled at the end.
TS_LUT7_TARGET void Lut7Gemv(const Lut7Matrix& w, const int8_t* x, int32_t x_sum, int row_begin,
                             int row_end, int32_t* dots) {
  alignas(64) uint8_t spread_bytes[64], shift_bytes[64], table[128] = {};
  for (int b = 0; b < 64; ++b) {
    spread_bytes[b] = static_cast<uint8_t>(7 * (b / 8) + std::min(b % 8, 6));
    shift_bytes[b] = static_cast<uint8_t>(7 * (b % 8));
  }
  for (int code = 0; code < 81; ++code) {
    int word = 0;
    for (int k = 0, c = code; k < 4; ++k, c /= 3) word |= (c % 3) << (2 * k);
    table[code] = static_cast<uint8_t>(word);
  }
  const __m512i spread = _mm512_load_si512(spread_bytes);
  const __m512i shifts = _mm512_load_si512(shift_bytes);
  const __m512i table_lo = _mm512_load_si512(table), table_hi = _mm512_load_si512(table + 64);
  const int n_groups = w.n_cols / kGroupCols;
  for (int r = row_begin; r < row_end; r += 4) {
    const uint8_t* rows = w.packed.data() + static_cast<size_t>(r) * w.row_bytes();
    __m512i acc[4][4];
    for (auto& row : acc) {
      for (auto& a : row) a = _mm512_setzero_si512();
    }
    for (int g = 0; g < n_groups; ++g) {
      const int8_t* xg = x + g * kGroupCols;
      const __m512i a[4] = {_mm512_load_si512(xg), _mm512_load_si512(xg + 64),
                            _mm512_load_si512(xg + 128), _mm512_load_si512(xg + 192)};
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const uint8_t* at = rows + i * w.row_bytes() + g * kGroupBytes;
        _mm_prefetch(reinterpret_cast<const char*>(at + 1024), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(at + 3072), _MM_HINT_T1);
        const __m512i raw = _mm512_loadu_si512(at);
        const __m512i codes =
            _mm512_multishift_epi64_epi8(shifts, _mm512_permutexvar_epi8(spread, raw));
        const __m512i word = _mm512_permutex2var_epi8(table_lo, codes, table_hi);
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const __m512i field =
              _mm512_and_si512(word, _mm512_set1_epi8(static_cast<char>(3 << (2 * k))));
          acc[i][k] = _mm512_dpbusd_epi32(acc[i][k], field, a[k]);
        }
      }
    }
    for (int i = 0; i < 4; ++i) {
      const __m512i low = _mm512_add_epi32(acc[i][0], _mm512_srai_epi32(acc[i][1], 2));
      const __m512i high =
          _mm512_add_epi32(_mm512_srai_epi32(acc[i][2], 4), _mm512_srai_epi32(acc[i][3], 6));
      dots[r + i] = _mm512_reduce_add_epi32(_mm512_add_epi32(low, high)) - x_sum;
    }
  }
}

void BM_Lut7Gemv(benchmark::State& state) {
  const int n_rows = static_cast<int>(state.range(0));
  const int n_cols = static_cast<int>(state.range(1));
  const bool cold = state.range(2) != 0;
  if (!__builtin_cpu_supports("avx512vbmi") || !__builtin_cpu_supports("avx512vnni")) {
    state.SkipWithError("needs AVX-512 VBMI and VNNI");
    return;
  }
  std::mt19937 rng(7);
  const std::vector<int8_t> trits = RandomTrits(n_rows, n_cols, rng);
  std::vector<Lut7Matrix> copies;
  copies.push_back(PackLut7(trits, n_rows, n_cols));
  const size_t bytes = copies[0].packed.size() - 64;
  while (cold && copies.size() * bytes < kColdBytes)
    copies.push_back(PackLut7(trits, n_rows, n_cols));

  AlignedBuffer<int8_t> x(static_cast<size_t>(n_cols));
  const int32_t x_sum = RandomActivations(n_cols, rng, x.data());
  std::vector<int32_t> dots(static_cast<size_t>(n_rows));
  CheckAndTimeGemv(state, "7-bit GEMV disagrees with the scalar dot product", trits, x.data(),
                   dots.data(), copies, bytes, n_rows, n_cols, 4,
                   [&](const Lut7Matrix& w, int r0, int r1) {
                     Lut7Gemv(w, x.data(), x_sum, r0, r1, dots.data());
                   });
}
BENCHMARK(BM_Lut7Gemv)
    ->ArgNames({"rows", "cols", "cold"})
    ->ArgsProduct({{2560, 6912}, {2560}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ts::kernels::bench
