#include "engine/model/tensor_decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/f16.h"

namespace ts::model {
namespace {

using gguf::TensorType;

[[noreturn]] void Fail(const gguf::TensorInfo& info, const std::string& why) {
  throw std::runtime_error("tensor '" + info.name + "' (" + gguf::TypeName(info.type_id) + "): " + why);
}

uint16_t ReadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Weight = (code - 1) for 2-bit codes 0, 1, 2; code 3 never appears in valid files. The packed
// bytes are checked for a code 3 in one pass before decoding, so the decode loops have no branch
// and vectorize (a 2B model has ~2 billion weights).
bool HasCode3(const uint8_t* bytes, size_t n) {
  uint8_t both_bits = 0;
  for (size_t i = 0; i < n; ++i) both_bits |= static_cast<uint8_t>(bytes[i] & (bytes[i] >> 1));
  return (both_bits & 0x55) != 0;
}

[[noreturn]] void FailCode3(const gguf::TensorInfo& info) {
  Fail(info, "invalid 2-bit code 3");
}

// I2_S, x86 layout: 128 consecutive weights in 32 bytes; byte j holds weights
// j, j+32, j+64, j+96 in bits [7:6], [5:4], [3:2], [1:0].
void DecodeI2S(const gguf::TensorInfo& info, std::span<const uint8_t> data, DecodedTernary* out) {
  if (out->n_cols % 128 != 0) Fail(info, "I2_S rows must be multiples of 128 weights");
  const size_t n = out->trits.size();
  if (HasCode3(data.data(), n / 4)) FailCode3(info);
  for (size_t block = 0; block < n / 128; ++block) {
    const uint8_t* bytes = data.data() + block * 32;
    int8_t* w = out->trits.data() + block * 128;
    for (int k = 0; k < 4; ++k) {
      for (int j = 0; j < 32; ++j)
        w[j + 32 * k] = static_cast<int8_t>(((bytes[j] >> (6 - 2 * k)) & 3) - 1);
    }
  }
  float scale;
  std::memcpy(&scale, data.data() + n / 4, 4);
  if (!std::isfinite(scale) || scale < 0) Fail(info, "invalid per-tensor scale " + std::to_string(scale));
  out->scale = scale;
}

// TQ2_0: 66 bytes per 256 weights, qs[64] + f16 d. In each 128-weight half, byte m
// holds weights m + 32n in bits 2n..2n+1.
void DecodeTq2(const uint8_t* block, int8_t* w, const gguf::TensorInfo& info) {
  if (HasCode3(block, 64)) FailCode3(info);
  for (int half = 0; half < 2; ++half) {
    for (int n = 0; n < 4; ++n) {
      for (int m = 0; m < 32; ++m)
        w[128 * half + m + 32 * n] =
            static_cast<int8_t>(((block[32 * half + m] >> (2 * n)) & 3) - 1);
    }
  }
}

// Trit n (most significant first) of a TQ1_0 byte holding ceil(v * 256 / 243).
int8_t Tq1Trit(uint8_t b, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto shifted = static_cast<uint8_t>(b * kPow3[n]);
  return static_cast<int8_t>(((static_cast<uint16_t>(shifted) * 3) >> 8) - 1);
}

// TQ1_0: 54 bytes per 256 weights, qs[48] + qh[4] + f16 d.
void DecodeTq1(const uint8_t* block, int8_t* w) {
  for (int m = 0; m < 32; ++m) {
    for (int n = 0; n < 5; ++n) w[m + 32 * n] = Tq1Trit(block[m], n);
  }
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 5; ++n) w[160 + m + 16 * n] = Tq1Trit(block[32 + m], n);
  }
  for (int j = 0; j < 4; ++j) {
    for (int n = 0; n < 4; ++n) w[240 + j + 4 * n] = Tq1Trit(block[48 + j], n);
  }
}

// Block-scaled ternary (TQ1_0/TQ2_0): each 256-block has its own absmax d. A BitNet
// tensor has one scale; we accept one per row and refuse mixed scales within a row.
void DecodeTqBlocks(const gguf::TensorInfo& info, std::span<const uint8_t> data, DecodedTernary* out,
                    size_t block_bytes, bool tq1) {
  const int blocks_per_row = out->n_cols / 256;
  out->row_scale.assign(static_cast<size_t>(out->n_rows), 0.0f);
  for (int r = 0; r < out->n_rows; ++r) {
    float row_d = 0.0f;
    for (int b = 0; b < blocks_per_row; ++b) {
      const size_t block_index = static_cast<size_t>(r) * blocks_per_row + b;
      const uint8_t* block = data.data() + block_index * block_bytes;
      int8_t* w = out->trits.data() + block_index * 256;
      if (tq1) DecodeTq1(block, w);
      else DecodeTq2(block, w, info);
      const float d = kernels::F16ToF32(ReadU16(block + block_bytes - 2));
      if (d == 0.0f) {
        std::memset(w, 0, 256);  // an all-zero block: codes carry no weight
        continue;
      }
      if (row_d == 0.0f) row_d = d;
      if (d != row_d) {
        Fail(info, "row " + std::to_string(r) + " mixes block scales " + std::to_string(row_d) + " and " +
                       std::to_string(d) + "; only BitNet ternary tensors (one scale per row) are supported");
      }
    }
    out->row_scale[static_cast<size_t>(r)] = row_d;
  }
  // Fold a common scale into the per-tensor one (the usual case).
  float common = 0.0f;
  bool uniform = true;
  for (float d : out->row_scale) {
    if (d == 0.0f) continue;
    if (common == 0.0f) common = d;
    uniform = uniform && d == common;
  }
  if (uniform) {
    out->scale = common == 0.0f ? 1.0f : common;
    out->row_scale.clear();
  }
}

}  // namespace

std::vector<float> DecodeFloat(const gguf::TensorInfo& info, std::span<const uint8_t> data) {
  const size_t n = info.n_elements;
  std::vector<float> out(n);
  switch (info.type()) {
    case TensorType::kF32:
      std::memcpy(out.data(), data.data(), n * 4);
      break;
    case TensorType::kF16:
      for (size_t i = 0; i < n; ++i) out[i] = kernels::F16ToF32(ReadU16(data.data() + 2 * i));
      break;
    case TensorType::kBF16:
      for (size_t i = 0; i < n; ++i) out[i] = kernels::Bf16ToF32(ReadU16(data.data() + 2 * i));
      break;
    case TensorType::kQ8_0:
      for (size_t b = 0; b < n / 32; ++b) {
        const uint8_t* block = data.data() + b * 34;
        const float d = kernels::F16ToF32(ReadU16(block));
        for (int j = 0; j < 32; ++j) out[b * 32 + j] = d * static_cast<float>(static_cast<int8_t>(block[2 + j]));
      }
      break;
    case TensorType::kQ6_K:
      for (size_t b = 0; b < n / 256; ++b) {
        const uint8_t* block = data.data() + b * 210;
        const float d = kernels::F16ToF32(ReadU16(block + 208));
        float* y = out.data() + b * 256;
        for (int half = 0; half < 2; ++half) {
          const uint8_t* ql = block + 64 * half;
          const uint8_t* qh = block + 128 + 32 * half;
          const auto* sc = reinterpret_cast<const int8_t*>(block + 192 + 8 * half);
          float* yh = y + 128 * half;
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q0 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q1 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            yh[l] = d * static_cast<float>(sc[is + 0] * q0);
            yh[l + 32] = d * static_cast<float>(sc[is + 2] * q1);
            yh[l + 64] = d * static_cast<float>(sc[is + 4] * q2);
            yh[l + 96] = d * static_cast<float>(sc[is + 6] * q3);
          }
        }
      }
      break;
    default:
      Fail(info, "type not supported for embeddings, heads or norms (supported: F32, F16, BF16, Q8_0, Q6_K)");
  }
  return out;
}

DecodedTernary DecodeTernary(const gguf::TensorInfo& info, std::span<const uint8_t> data, bool* was_exact) {
  if (info.dims.size() != 2) Fail(info, "expected a 2-D weight matrix");
  if (info.dims[0] > (1u << 20) || info.dims[1] > (1u << 20)) Fail(info, "implausibly large matrix");
  DecodedTernary out;
  out.n_cols = static_cast<int>(info.dims[0]);
  out.n_rows = static_cast<int>(info.dims[1]);
  out.trits.resize(info.n_elements);
  if (was_exact) *was_exact = true;
  switch (info.type()) {
    case TensorType::kI2_S:
      DecodeI2S(info, data, &out);
      break;
    case TensorType::kTQ2_0:
      DecodeTqBlocks(info, data, &out, 66, /*tq1=*/false);
      break;
    case TensorType::kTQ1_0:
      DecodeTqBlocks(info, data, &out, 54, /*tq1=*/true);
      break;
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16: {
      const std::vector<float> w = DecodeFloat(info, data);
      float absmax = 0.0f;
      double abssum = 0.0;
      for (float v : w) {
        if (!std::isfinite(v)) Fail(info, "holds a non-finite value");
        absmax = std::max(absmax, std::fabs(v));
        abssum += std::fabs(v);
      }
      bool exact = true;
      for (float v : w) exact = exact && (v == 0.0f || std::fabs(v) == absmax);
      // Not ternary (full-precision master weights): ternarize with the absmean rule
      // round(w / mean|w|) clamped to [-1, 1], as BitNet b1.58 does in training.
      const float scale = exact ? absmax : static_cast<float>(abssum / static_cast<double>(w.size()));
      for (size_t i = 0; i < w.size(); ++i) {
        const float t = scale > 0 ? std::round(w[i] / scale) : 0.0f;
        out.trits[i] = static_cast<int8_t>(std::clamp(t, -1.0f, 1.0f));
      }
      out.scale = scale > 0 ? scale : 1.0f;
      if (was_exact) *was_exact = exact;
      break;
    }
    default:
      Fail(info, "not a ternary weight type (supported: I2_S, TQ1_0, TQ2_0, F32, F16, BF16)");
  }
  return out;
}

}  // namespace ts::model
