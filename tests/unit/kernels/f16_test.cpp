#include "kernels/f16.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu.h"

namespace ts::kernels {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(F16, KnownValues) {
  EXPECT_EQ(F32ToF16(0.0f), 0x0000);
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(F32ToF16(1.0f), 0x3C00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xC000);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7BFF);             // largest finite half
  EXPECT_EQ(F32ToF16(65519.0f), 0x7BFF);             // just below the rounding midpoint
  EXPECT_EQ(F32ToF16(65520.0f), 0x7C00);             // midpoint rounds to even = overflow
  EXPECT_EQ(F32ToF16(1e10f), 0x7C00);
  EXPECT_EQ(F32ToF16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and 1 ulp -> even (0)
  EXPECT_EQ(F32ToF16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(F32ToF16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp tie -> even (2)
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie -> even
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie -> even (up)
  const uint16_t nan = F32ToF16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);

  EXPECT_EQ(F16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(F16ToF32(0x7BFF), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(F16ToF32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::isinf(F16ToF32(0x7C00)));
  EXPECT_TRUE(std::isinf(F16ToF32(0xFC00)) && F16ToF32(0xFC00) < 0);
  EXPECT_TRUE(std::isnan(F16ToF32(0x7E00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7C01)));
  EXPECT_EQ(Bits(F16ToF32(0x8000)), 0x80000000u);
}

TEST(F16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(f)))) << h;
    } else {
      ASSERT_EQ(F32ToF16(f), h) << h;
    }
  }
}

__attribute__((target("f16c"))) uint16_t HardwareF32ToF16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float HardwareF16ToF32(uint16_t h) { return _cvtsh_ss(h); }

TEST(F16, MatchesF16cHardware) {
  if (DetectBestIsa() < Isa::kAvx2) GTEST_SKIP() << "no F16C";
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    const float expected = HardwareF16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(f));
    } else {
      ASSERT_EQ(Bits(f), Bits(expected)) << h;
    }
  }
  std::mt19937 rng(7);
  // Random bit patterns restricted to the interesting exponent range (subnormal .. overflow),
  // plus a few fully random ones.
  for (int i = 0; i < 2000000; ++i) {
    uint32_t u = static_cast<uint32_t>(rng());
    if (i % 8 != 0) u = (u & 0x807FFFFFu) | ((100u + (u >> 23) % 45u) << 23);
    const float f = FromBits(u);
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToF16(f), HardwareF32ToF16(f)) << std::hex << u;
  }
}

TEST(Bf16, TopBitsOfFloat) {
  EXPECT_EQ(Bf16ToF32(0x3F80), 1.0f);
  EXPECT_EQ(Bf16ToF32(0xC000), -2.0f);
  EXPECT_TRUE(std::isinf(Bf16ToF32(0x7F80)));
  EXPECT_TRUE(std::isnan(Bf16ToF32(0x7FC0)));
}

TEST(F16, RowConversionOfEveryHalf) {
  std::vector<uint16_t> in(65536);
  for (size_t h = 0; h < in.size(); ++h)
    in[h] = static_cast<uint16_t>(65535 - h);  // not the table's order
  std::vector<float> out(in.size());
  F16ToF32Row(in.data(), out.data(), in.size());
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(Bits(out[i]), Bits(F16ToF32(in[i]))) << in[i];
}

}  // namespace
}  // namespace ts::kernels
