// Every tiny-v512 fixture stores the same ternary weights in a different format:
// decoding any of them must give exactly the weights of tiny-v512-f32.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/gguf/gguf.h"
#include "engine/model/tensor_decode.h"

namespace ts::model {
namespace {

const std::string kModels = std::string(TS_FIXTURES_DIR) + "/models/";

// Effective weight values (trit * scale * row_scale * optional scale tensor), row-major.
std::vector<float> EffectiveWeights(const gguf::GgufFile& file, const gguf::TensorInfo& t) {
  const DecodedTernary d = DecodeTernary(t, file.TensorData(t));
  float extra = 1.0f;
  const std::string scale_name = t.name.substr(0, t.name.size() - std::string("weight").size()) + "scale";
  if (const auto* s = file.FindTensor(scale_name)) extra = DecodeFloat(*s, file.TensorData(*s))[0];
  std::vector<float> w(d.trits.size());
  for (int r = 0; r < d.n_rows; ++r) {
    const float rs = d.row_scale.empty() ? 1.0f : d.row_scale[static_cast<size_t>(r)];
    for (int col = 0; col < d.n_cols; ++col) {
      const size_t i = static_cast<size_t>(r) * d.n_cols + col;
      w[i] = static_cast<float>(d.trits[i]) * d.scale * rs * extra;
    }
  }
  return w;
}

TEST(TensorDecode, EveryFixtureDecodesToTheF32Weights) {
  const auto reference = gguf::GgufFile::Open(kModels + "tiny-v512-f32.gguf");
  for (const char* name : {"tiny-v512-i2_s", "tiny-v512-tq2_0", "tiny-v512-tq1_0", "tiny-v512-scaled-tq2_0-embf16"}) {
    SCOPED_TRACE(name);
    const auto file = gguf::GgufFile::Open(kModels + std::string(name) + ".gguf");
    int compared = 0;
    for (const auto& t : reference.tensors()) {
      if (t.name.rfind("blk.", 0) != 0 || t.dims.size() != 2) continue;
      const gguf::TensorInfo* other = file.FindTensor(t.name);
      ASSERT_NE(other, nullptr) << t.name;
      bool exact = false;
      (void)DecodeTernary(t, reference.TensorData(t), &exact);
      EXPECT_TRUE(exact) << t.name << " in the f32 fixture is not exactly ternary";
      const auto want = EffectiveWeights(reference, t);
      const auto got = EffectiveWeights(file, *other);
      ASSERT_EQ(want.size(), got.size()) << t.name;
      for (size_t i = 0; i < want.size(); ++i) {
        // Scales are exactly representable in f16, so decoding is exact.
        ASSERT_EQ(want[i], got[i]) << t.name << " element " << i;
      }
      ++compared;
    }
    EXPECT_EQ(compared, 4 * 7);
  }
}

TEST(TensorDecode, FloatTypesOfTheHeads) {
  // The F32 fixture's head vs the F16 head of the i2_s fixture and the Q6_K head of tq2_0.
  const auto f32 = gguf::GgufFile::Open(kModels + "tiny-v512-f32.gguf");
  const auto f16 = gguf::GgufFile::Open(kModels + "tiny-v512-i2_s.gguf");
  const auto q6k = gguf::GgufFile::Open(kModels + "tiny-v512-tq2_0.gguf");
  const auto& t32 = *f32.FindTensor("token_embd.weight");
  const auto want = DecodeFloat(t32, f32.TensorData(t32));
  const auto& t16 = *f16.FindTensor("token_embd.weight");
  const auto& t6 = *q6k.FindTensor("token_embd.weight");
  ASSERT_EQ(t6.type(), gguf::TensorType::kQ6_K);
  const auto got16 = DecodeFloat(t16, f16.TensorData(t16));
  const auto got6 = DecodeFloat(t6, q6k.TensorData(t6));
  double max16 = 0, max6 = 0, absmax = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max16 = std::max(max16, static_cast<double>(std::fabs(want[i] - got16[i])));
    max6 = std::max(max6, static_cast<double>(std::fabs(want[i] - got6[i])));
    absmax = std::max(absmax, static_cast<double>(std::fabs(want[i])));
  }
  EXPECT_LT(max16, absmax * 1e-3);  // f16 rounding
  EXPECT_LT(max6, absmax * 0.05);   // 6-bit quantization
  EXPECT_GT(max6, 0.0);             // Q6_K really is lossy: the comparison is not vacuous
}

TEST(TensorDecode, RejectsBadTernaryTypeAndCode) {
  gguf::TensorInfo info;
  info.name = "blk.0.attn_q.weight";
  info.dims = {256, 1};
  info.n_elements = 256;
  info.type_id = 8;  // Q8_0 is not a ternary type
  std::vector<uint8_t> data(8 * 34);
  EXPECT_THROW(DecodeTernary(info, data), std::runtime_error);
  info.type_id = 36;
  info.dims = {128, 1};
  info.n_elements = 128;
  std::vector<uint8_t> i2s(32 + 32, 0xFF);  // code 3 everywhere
  try {
    DecodeTernary(info, i2s);
    FAIL() << "code 3 accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos);
  }
}

}  // namespace
}  // namespace ts::model
