#include "engine/model/tensor_encode.h"

#include <cstring>
#include <stdexcept>

#include "kernels/f16.h"

namespace ts::model {
namespace {

uint8_t Code(int8_t trit) { return static_cast<uint8_t>(trit + 1); }

void EncodeI2S(std::span<const int8_t> w, float scale, std::vector<uint8_t>* out) {
  const size_t n = w.size();
  out->assign(n / 4 + gguf::kI2sTailBytes, 0);
  for (size_t block = 0; block < n / 128; ++block) {
    const int8_t* src = w.data() + block * 128;
    uint8_t* dst = out->data() + block * 32;
    for (int j = 0; j < 32; ++j) {
      dst[j] = static_cast<uint8_t>(Code(src[j]) << 6 | Code(src[j + 32]) << 4 | Code(src[j + 64]) << 2 |
                                    Code(src[j + 96]));
    }
  }
  std::memcpy(out->data() + n / 4, &scale, 4);
}

void EncodeTq2Block(const int8_t* w, uint16_t d, uint8_t* block) {
  for (int half = 0; half < 2; ++half) {
    for (int m = 0; m < 32; ++m) {
      uint8_t b = 0;
      for (int n = 0; n < 4; ++n) b = static_cast<uint8_t>(b | Code(w[128 * half + m + 32 * n]) << (2 * n));
      block[32 * half + m] = b;
    }
  }
  std::memcpy(block + 64, &d, 2);
}

// Packs base-3 digits (first most significant) as ceil(v * 256 / 243).
uint8_t PackTrits(const int8_t* const* digits, int n_digits) {
  unsigned v = 0;
  for (int n = 0; n < n_digits; ++n) v = v * 3 + Code(*digits[n]);
  for (int n = n_digits; n < 5; ++n) v *= 3;
  return static_cast<uint8_t>((v * 256 + 242) / 243);
}

void EncodeTq1Block(const int8_t* w, uint16_t d, uint8_t* block) {
  const int8_t* digits[5];
  for (int m = 0; m < 32; ++m) {
    for (int n = 0; n < 5; ++n) digits[n] = &w[m + 32 * n];
    block[m] = PackTrits(digits, 5);
  }
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 5; ++n) digits[n] = &w[160 + m + 16 * n];
    block[32 + m] = PackTrits(digits, 5);
  }
  for (int j = 0; j < 4; ++j) {
    for (int n = 0; n < 4; ++n) digits[n] = &w[240 + j + 4 * n];
    block[48 + j] = PackTrits(digits, 4);
  }
  std::memcpy(block + 52, &d, 2);
}

}  // namespace

std::vector<uint8_t> EncodeTernary(std::span<const int8_t> trits, int n_rows, int n_cols, float scale,
                                   gguf::TensorType type) {
  if (trits.size() != static_cast<size_t>(n_rows) * n_cols) throw std::invalid_argument("trits size != rows*cols");
  for (int8_t t : trits) {
    if (t < -1 || t > 1) throw std::invalid_argument("not a trit");
  }
  std::vector<uint8_t> out;
  if (type == gguf::TensorType::kI2_S) {
    if (n_cols % 128 != 0) throw std::invalid_argument("I2_S needs rows that are multiples of 128");
    EncodeI2S(trits, scale, &out);
    return out;
  }
  const bool tq1 = type == gguf::TensorType::kTQ1_0;
  if (!tq1 && type != gguf::TensorType::kTQ2_0) throw std::invalid_argument("not a ternary type");
  if (n_cols % 256 != 0) throw std::invalid_argument("TQ types need rows that are multiples of 256");
  const size_t block_bytes = tq1 ? 54 : 66;
  const size_t n_blocks = trits.size() / 256;
  out.assign(n_blocks * block_bytes, 0);
  const uint16_t d = kernels::F32ToF16(scale);
  for (size_t b = 0; b < n_blocks; ++b) {
    if (tq1) EncodeTq1Block(trits.data() + b * 256, d, out.data() + b * block_bytes);
    else EncodeTq2Block(trits.data() + b * 256, d, out.data() + b * block_bytes);
  }
  return out;
}

}  // namespace ts::model
