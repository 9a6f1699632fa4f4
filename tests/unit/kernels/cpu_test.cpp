#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "kernels/cpu.h"
#include "tests/unit/kernels/test_util.h"

namespace ts::kernels {
namespace {

TEST(Cpu, IsaNames) {
  EXPECT_STREQ(IsaName(Isa::kScalar), "scalar");
  EXPECT_STREQ(IsaName(Isa::kAvx2), "avx2");
  EXPECT_STREQ(IsaName(Isa::kAvx512), "avx512");
  EXPECT_STREQ(IsaName(Isa::kAmx), "amx");
}

TEST(Cpu, ActiveIsNeverAboveBest) {
  EXPECT_LE(ActiveIsa(), DetectBestIsa());
  EXPECT_EQ(DetectBestIsa(), DetectBestIsa());  // cached and stable
}

TEST(Cpu, ForceIsaSwitchesAndRestores) {
  for (Isa isa : testing::SupportedIsas()) {
    testing::ScopedIsa scoped(isa);
    EXPECT_EQ(ActiveIsa(), isa);
  }
}

TEST(Cpu, ForceIsaAboveBestThrows) {
  if (DetectBestIsa() == Isa::kAmx) GTEST_SKIP() << "CPU supports every ISA";
  const Isa before = ActiveIsa();
  EXPECT_THROW(ForceIsa(Isa::kAmx), std::invalid_argument);
  EXPECT_EQ(ActiveIsa(), before);
}

}  // namespace
}  // namespace ts::kernels
