#include "engine/kv/kv_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "kernels/f16.h"
#include "kernels/round.h"
#include "kernels/vector_ops.h"

namespace ts::kv {

KvType ParseKvType(const std::string& name) {
  if (name == "f32") return KvType::kF32;
  if (name == "f16") return KvType::kF16;
  if (name == "q8") return KvType::kQ8;
  if (name == "q4") return KvType::kQ4;
  throw std::invalid_argument("unknown KV type '" + name + "' (f32, f16, q8, q4)");
}

const char* KvTypeName(KvType type) {
  switch (type) {
    case KvType::kF32: return "f32";
    case KvType::kF16: return "f16";
    case KvType::kQ8: return "q8";
    case KvType::kQ4: return "q4";
  }
  return "?";
}

size_t KvRowBytes(KvType type, int head_dim) {
  const auto n = static_cast<size_t>(head_dim);
  switch (type) {
    case KvType::kF32: return n * 4;
    case KvType::kF16: return n * 2;
    case KvType::kQ8: return 4 + n;
    case KvType::kQ4: return (n / kQ4Group) * kQ4GroupBytes;
  }
  return 0;
}

namespace {

float AbsMax(const float* x, int n) {
  float m = 0.0f;
  for (int i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

// A q4 group starts with its f16 scale and f16 minimum.
std::pair<float, float> Q4Params(const uint8_t* group) {
  uint16_t scale_bits, min_bits;
  std::memcpy(&scale_bits, group, 2);
  std::memcpy(&min_bits, group + 2, 2);
  return {kernels::F16ToF32(scale_bits), kernels::F16ToF32(min_bits)};
}

}  // namespace

void KvStoreRow(KvType type, const float* x, int head_dim, uint8_t* row) {
  switch (type) {
    case KvType::kF32:
      std::memcpy(row, x, static_cast<size_t>(head_dim) * 4);
      return;
    case KvType::kF16: {
      auto* h = reinterpret_cast<uint16_t*>(row);
      for (int i = 0; i < head_dim; ++i) h[i] = kernels::F32ToF16(x[i]);
      return;
    }
    case KvType::kQ8: {
      const float scale = AbsMax(x, head_dim) / 127.0f;
      const float inv = scale > 0 ? 1.0f / scale : 0.0f;
      std::memcpy(row, &scale, 4);
      auto* q = reinterpret_cast<int8_t*>(row + 4);
      for (int i = 0; i < head_dim; ++i)
        q[i] = static_cast<int8_t>(kernels::RoundClamped(x[i] * inv, 127.0f));
      return;
    }
    case KvType::kQ4: {
      for (int g = 0; g < head_dim / kQ4Group; ++g) {
        const float* xg = x + g * kQ4Group;
        uint8_t* out = row + static_cast<size_t>(g) * kQ4GroupBytes;
        // Asymmetric: 16 levels spread over [min, max] of the group, not [-absmax, absmax].
        float lo = xg[0], hi = xg[0];
        for (int i = 1; i < kQ4Group; ++i) {
          lo = std::min(lo, xg[i]);
          hi = std::max(hi, xg[i]);
        }
        const uint16_t min_bits = kernels::F32ToF16(lo), scale_bits = kernels::F32ToF16((hi - lo) / 15.0f);
        const float min_value = kernels::F16ToF32(min_bits), scale = kernels::F16ToF32(scale_bits);
        const float inv = scale > 0 ? 1.0f / scale : 0.0f;
        std::memcpy(out, &scale_bits, 2);
        std::memcpy(out + 2, &min_bits, 2);
        for (int i = 0; i < kQ4Group / 2; ++i) {
          // Nibble pairs: value i in the low nibble, value i + 8 in the high one.
          const int a = std::max(0, kernels::RoundClamped((xg[i] - min_value) * inv, 15.0f));
          const int b =
              std::max(0, kernels::RoundClamped((xg[i + kQ4Group / 2] - min_value) * inv, 15.0f));
          out[4 + i] = static_cast<uint8_t>(a | b << 4);
        }
      }
      return;
    }
  }
}

float KvDotRow(KvType type, const uint8_t* row, const float* q, int head_dim) {
  const kernels::VectorOps& ops = kernels::ActiveVectorOps();
  float sum = 0.0f;
  switch (type) {
    case KvType::kF32:
      return ops.dot_f32(reinterpret_cast<const float*>(row), q, head_dim);
    case KvType::kF16:
      return ops.dot_f16(reinterpret_cast<const uint16_t*>(row), q, head_dim);
    case KvType::kQ8: {
      float scale;
      std::memcpy(&scale, row, 4);
      return ops.dot_i8(reinterpret_cast<const int8_t*>(row + 4), q, head_dim) * scale;
    }
    case KvType::kQ4: {
      for (int g = 0; g < head_dim / kQ4Group; ++g) {
        const uint8_t* in = row + static_cast<size_t>(g) * kQ4GroupBytes;
        const auto [scale, min_value] = Q4Params(in);
        const float* qg = q + g * kQ4Group;
        float part = 0.0f, q_sum = 0.0f;
        for (int i = 0; i < kQ4Group / 2; ++i) {
          part += qg[i] * static_cast<float>(in[4 + i] & 15);
          part += qg[i + kQ4Group / 2] * static_cast<float>(in[4 + i] >> 4);
          q_sum += qg[i] + qg[i + kQ4Group / 2];
        }
        sum += part * scale + q_sum * min_value;
      }
      return sum;
    }
  }
  return sum;
}

void KvAccumulateRow(KvType type, const uint8_t* row, float weight, float* out, int head_dim) {
  const kernels::VectorOps& ops = kernels::ActiveVectorOps();
  switch (type) {
    case KvType::kF32:
      ops.axpy_f32(reinterpret_cast<const float*>(row), weight, out, head_dim);
      return;
    case KvType::kF16:
      ops.axpy_f16(reinterpret_cast<const uint16_t*>(row), weight, out, head_dim);
      return;
    case KvType::kQ8: {
      float scale;
      std::memcpy(&scale, row, 4);
      ops.axpy_i8(reinterpret_cast<const int8_t*>(row + 4), weight * scale, out, head_dim);
      return;
    }
    case KvType::kQ4: {
      for (int g = 0; g < head_dim / kQ4Group; ++g) {
        const uint8_t* in = row + static_cast<size_t>(g) * kQ4GroupBytes;
        const auto [scale, min_value] = Q4Params(in);
        const float w = weight * scale, offset = weight * min_value;
        float* og = out + g * kQ4Group;
        for (int i = 0; i < kQ4Group / 2; ++i) {
          og[i] += w * static_cast<float>(in[4 + i] & 15) + offset;
          og[i + kQ4Group / 2] += w * static_cast<float>(in[4 + i] >> 4) + offset;
        }
      }
      return;
    }
  }
}

void KvLoadRow(KvType type, const uint8_t* row, int head_dim, float* out) {
  std::memset(out, 0, static_cast<size_t>(head_dim) * sizeof(float));
  KvAccumulateRow(type, row, 1.0f, out, head_dim);
}

}  // namespace ts::kv
