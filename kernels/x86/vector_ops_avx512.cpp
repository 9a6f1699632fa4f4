// VectorOps::key_scores_q8 for AVX-512 VNNI + VBMI (the rest of the AVX-512 set is AVX2's).
// Compiled with -mavx512f/bw/vl/vnni/vbmi.
//
// Keys are stored dimension-major, 16 per block: one 64-byte line holds dimensions d..d+3 of the
// 16 keys, 16 bytes each. vpermb turns it into 16 keys x 4 dimensions (a key per int32 lane), and
// one vpdpbusd per query adds that query's 4 products to each key's lane: 256 multiply-adds in
// one instruction where the float kernels convert and FMA 8 at a time. vpdpbusd multiplies
// unsigned by signed bytes: the queries go in as q + 128 and 128 * sum_d k[d] comes back out
// (its own vpdpbusd with ones, shared by all queries). Exact integers: the same bits as the
// scalar reference.
#include <algorithm>
#include <cstring>

#include "kernels/internal/key_scores_q8.h"
#include "kernels/x86/avx512_intrinsics.h"

namespace ts::kernels::avx512_ops {
namespace {

constexpr int kKeys = 16;     // keys per block (the cache's block size)
constexpr int kMaxQ = 8;      // queries per pass: Q accumulators + the key sums in registers
constexpr int kMaxDim = 512;  // kv::kMaxHeadDim

// dots[i][j] = sum_d codes[d * 16 + j] * q[i][d] for Q queries; q_flipped holds q + 128.
template <int Q>
void KeyBlock(const int8_t* codes, int dim, const uint8_t (*q_flipped)[kMaxDim],
              int32_t (*dots)[kKeys]) {
  alignas(64) int8_t transpose[64];  // output byte 4 * key + k <- input byte 16 * k + key
  for (int o = 0; o < 64; ++o) transpose[o] = static_cast<int8_t>(o % 4 * kKeys + o / 4);
  const __m512i index = _mm512_load_si512(transpose);
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i key_sums = _mm512_setzero_si512();
  __m512i acc[Q];
  for (int i = 0; i < Q; ++i) acc[i] = _mm512_setzero_si512();
  for (int d = 0; d < dim; d += 4) {
    const __m512i keys = _mm512_permutexvar_epi8(index, _mm512_loadu_si512(codes + d * kKeys));
    key_sums = _mm512_dpbusd_epi32(key_sums, ones, keys);
    for (int i = 0; i < Q; ++i) {
      int32_t q4;
      std::memcpy(&q4, q_flipped[i] + d, sizeof(q4));
      acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_set1_epi32(q4), keys);
    }
  }
  const __m512i offset = _mm512_slli_epi32(key_sums, 7);
  for (int i = 0; i < Q; ++i) _mm512_storeu_si512(dots[i], _mm512_sub_epi32(acc[i], offset));
}

}  // namespace

void KeyScoresQ8(const int8_t* codes, int ld, const float* scales, int n, int dim,
                 const int8_t* const* q, const float* q_scales, int m, float factor,
                 float* const* scores) {
  if (ld != kKeys || n > kKeys || dim % 4 != 0 || dim > kMaxDim) {
    scalar_ops::KeyScoresQ8(codes, ld, scales, n, dim, q, q_scales, m, factor, scores);
    return;
  }
  alignas(64) uint8_t q_flipped[kMaxQ][kMaxDim];
  alignas(64) int32_t dots[kMaxQ][kKeys];
  for (int i0 = 0; i0 < m; i0 += kMaxQ) {
    const int n_q = std::min(kMaxQ, m - i0);
    for (int i = 0; i < n_q; ++i) {
      for (int d = 0; d < dim; ++d) q_flipped[i][d] = static_cast<uint8_t>(q[i0 + i][d] ^ 0x80);
    }
    switch (n_q) {
      case 1:
        KeyBlock<1>(codes, dim, q_flipped, dots);
        break;
      case 2:
        KeyBlock<2>(codes, dim, q_flipped, dots);
        break;
      case 3:
        KeyBlock<3>(codes, dim, q_flipped, dots);
        break;
      case 4:
        KeyBlock<4>(codes, dim, q_flipped, dots);
        break;
      case 5:
        KeyBlock<5>(codes, dim, q_flipped, dots);
        break;
      case 6:
        KeyBlock<6>(codes, dim, q_flipped, dots);
        break;
      case 7:
        KeyBlock<7>(codes, dim, q_flipped, dots);
        break;
      default:
        KeyBlock<8>(codes, dim, q_flipped, dots);
        break;
    }
    for (int i = 0; i < n_q; ++i) {
      const float query_factor = factor * q_scales[i0 + i];
      for (int j = 0; j < n; ++j) {
        scores[i0 + i][j] = static_cast<float>(dots[i][j]) * (query_factor * scales[j]);
      }
    }
  }
}

}  // namespace ts::kernels::avx512_ops
