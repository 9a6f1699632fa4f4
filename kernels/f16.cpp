// IEEE half <-> float by bit manipulation (no dependence on F16C, so the baseline build has it).
#include "kernels/f16.h"

#include <cstring>
#include <vector>

namespace ts::kernels {
namespace {

float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

uint32_t FloatToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

}  // namespace

float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) return BitsToFloat(sign | 0x7F800000u | (mantissa << 13));  // inf / nan
  if (exponent != 0) return BitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return BitsToFloat(sign);  // +-0
  // Subnormal half: value = mantissa * 2^-24; normalise it into a float.
  int shift = 0;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    ++shift;
  }
  mantissa &= 0x3FFu;
  const uint32_t float_exponent = static_cast<uint32_t>(113 - shift);
  return BitsToFloat(sign | (float_exponent << 23) | (mantissa << 13));
}

uint16_t F32ToF16(float f) {
  const uint32_t u = FloatToBits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) {  // nan: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
  }
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to >= 65536
  if (abs >= 0x38800000u) {  // normal half range (>= 2^-14)
    // Round to nearest even on the 13 dropped bits; a carry into the exponent is correct.
    const uint32_t rounded = abs + 0xFFFu + ((abs >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  if (abs < 0x33000000u) return sign;  // below half the smallest subnormal (2^-25): +-0
  // Subnormal half: value / 2^-24 rounded to nearest even integer.
  const uint32_t exponent = abs >> 23;               // 102..112
  const uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - exponent;             // 14..24: bits dropped
  const uint32_t half_bit = 1u << (shift - 1);
  uint32_t result = mantissa >> shift;
  const uint32_t remainder = mantissa & ((1u << shift) - 1);
  if (remainder > half_bit || (remainder == half_bit && (result & 1u))) ++result;
  return static_cast<uint16_t>(sign | result);
}

float Bf16ToF32(uint16_t h) { return BitsToFloat(static_cast<uint32_t>(h) << 16); }

void F16ToF32Row(const uint16_t* in, float* out, size_t n) {
  // A table of all 65536 halves (256 KiB, built on first use): rows of a large f16 head are
  // converted at load (~330M values for 2B-4T), where the branchy F16ToF32 cost ~1 s.
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < t.size(); ++h) t[h] = F16ToF32(static_cast<uint16_t>(h));
    return t;
  }();
  for (size_t i = 0; i < n; ++i) out[i] = table[in[i]];
}

}  // namespace ts::kernels
