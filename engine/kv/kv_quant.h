// Storage formats of one KV row (one token, one KV head: head_dim values), and
// the two operations attention needs on a stored row: dot with a float query,
// and accumulate weight * row into a float output. Dequantization happens inside
// these, so the cache is never expanded to full precision. The f32/f16/q8 inner
// loops are kernels::VectorOps (scalar reference + AVX2); q4 is scalar.
//
//   f32: head_dim floats                            4 B/value
//   f16: head_dim IEEE halves                       2 B/value
//   q8:  f32 scale + head_dim int8 (absmax / 127)   1 B/value + 4 B/row
//   q4:  per group of 16 values: f16 scale + f16 minimum + 8 B of nibbles (16 levels over [min, max])
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ts::kv {

enum class KvType { kF32, kF16, kQ8, kQ4 };
inline constexpr int kQ4Group = 16;
inline constexpr size_t kQ4GroupBytes = 4 + kQ4Group / 2;

KvType ParseKvType(const std::string& name);  // "f32", "f16", "q8", "q4"; throws std::invalid_argument
const char* KvTypeName(KvType type);

// Returns the bytes of one stored row of head_dim values (head_dim % 16 == 0 for q4).
size_t KvRowBytes(KvType type, int head_dim);

void KvStoreRow(KvType type, const float* x, int head_dim, uint8_t* row);
float KvDotRow(KvType type, const uint8_t* row, const float* q, int head_dim);
void KvAccumulateRow(KvType type, const uint8_t* row, float weight, float* out, int head_dim);
void KvLoadRow(KvType type, const uint8_t* row, int head_dim, float* out);  // tests, error bounds

}  // namespace ts::kv
