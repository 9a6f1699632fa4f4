// How `--head` maps a shipped head to its in-memory storage.
#include <gtest/gtest.h>

#include "engine/model/weights.h"

namespace ts::model {
namespace {

using gguf::TensorType;
using kernels::HeadType;

constexpr uint64_t k2b4tHead = uint64_t{128256} * 2560;  // BitNet-2B-4T's tied head
constexpr uint64_t kTinyHead = uint64_t{512} * 64;

TEST(HeadStorage, AutoStoresARealModelsFloatHeadAsQ8) {
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kF16, k2b4tHead), HeadType::kQ8);
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kBF16, k2b4tHead), HeadType::kQ8);
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kF32, uint64_t{32000} * 1536),
            HeadType::kQ8);
}

TEST(HeadStorage, AutoKeepsSmallHeadsAsShipped) {
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kF16, kTinyHead), HeadType::kF16);
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kF32, kTinyHead), HeadType::kF32);
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kBF16, kTinyHead), HeadType::kF32);
  // The threshold's edge: one weight below it keeps f16.
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kF16, (uint64_t{1} << 25) - 1),
            HeadType::kF16);
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kF16, uint64_t{1} << 25), HeadType::kQ8);
}

TEST(HeadStorage, AutoExpandsQuantizedHeadsToF16) {
  // Q6_K / Q8_0 heads (llama.cpp's TQ files) are decoded once; f16 keeps their precision.
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kQ6_K, k2b4tHead), HeadType::kF16);
  EXPECT_EQ(HeadStorage(HeadPrecision::kAuto, TensorType::kQ8_0, kTinyHead), HeadType::kF16);
}

TEST(HeadStorage, AnExplicitChoiceIsKept) {
  EXPECT_EQ(HeadStorage(HeadPrecision::kF16, TensorType::kF16, k2b4tHead), HeadType::kF16);
  EXPECT_EQ(HeadStorage(HeadPrecision::kF32, TensorType::kF16, kTinyHead), HeadType::kF32);
  EXPECT_EQ(HeadStorage(HeadPrecision::kQ4, TensorType::kF32, kTinyHead), HeadType::kQ4);
  EXPECT_EQ(HeadStorage(HeadPrecision::kQ8, TensorType::kQ6_K, kTinyHead), HeadType::kQ8);
}

}  // namespace
}  // namespace ts::model
