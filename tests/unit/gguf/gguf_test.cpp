// GGUF reader/writer: round trips and the real fixture files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_writer.h"

namespace ts::gguf {
namespace {

const std::string kFixtures = TS_FIXTURES_DIR;

TEST(TensorTypes, SizesOfTernaryModelTypes) {
  std::string why;
  EXPECT_EQ(TensorPayloadBytes(0, 256, 256, &why), 1024u);
  EXPECT_EQ(TensorPayloadBytes(1, 256, 256, &why), 512u);
  EXPECT_EQ(TensorPayloadBytes(30, 256, 256, &why), 512u);
  EXPECT_EQ(TensorPayloadBytes(8, 256, 256, &why), 8u * 34u);
  EXPECT_EQ(TensorPayloadBytes(14, 512, 256, &why), 2u * 210u);
  EXPECT_EQ(TensorPayloadBytes(34, 512, 256, &why), 2u * 54u);
  EXPECT_EQ(TensorPayloadBytes(35, 512, 256, &why), 2u * 66u);
  // I2_S: 2 bits per weight plus the 32-byte scale tail.
  EXPECT_EQ(TensorPayloadBytes(36, 2560u * 640u, 2560, &why), 2560u * 640u / 4u + 32u);
  EXPECT_EQ(TypeName(36), "I2_S");
  EXPECT_EQ(TypeName(99), "unknown type 99");
  EXPECT_FALSE(TensorPayloadBytes(99, 256, 256, &why));
  EXPECT_NE(why.find("unknown tensor type id 99"), std::string::npos);
  EXPECT_FALSE(TensorPayloadBytes(35, 100, 100, &why));
  EXPECT_NE(why.find("multiple of"), std::string::npos);
  EXPECT_FALSE(TensorPayloadBytes(37, 256, 256, &why));
  EXPECT_NE(why.find("convert the model to I2_S"), std::string::npos);
}

TEST(GgufRoundTrip, EveryValueTypeAndNestedArrays) {
  GgufWriter w(64);
  w.SetString("general.architecture", "bitnet-b1.58");
  w.SetU32("a.u32", 4000000000u);
  w.SetI32("a.i32", -7);
  w.SetF32("a.f32", 1.5f);
  w.SetBool("a.bool", true);
  w.Set("a.u8", Value::Uint(ValueType::kUint8, 255));
  w.Set("a.i8", Value::Int(ValueType::kInt8, -128));
  w.Set("a.u16", Value::Uint(ValueType::kUint16, 65535));
  w.Set("a.i16", Value::Int(ValueType::kInt16, -32768));
  w.Set("a.u64", Value::Uint(ValueType::kUint64, 1ull << 40));
  w.Set("a.i64", Value::Int(ValueType::kInt64, -(1ll << 40)));
  Value f64 = Value::Float32(0);
  f64.type = ValueType::kFloat64;
  f64.data = 0.125;
  w.Set("a.f64", f64);
  w.SetStringArray("a.strs", {"x", "", "zz"});
  w.SetF32Array("a.f32s", {1.0f, -2.0f});
  std::vector<Value> inner = {Value::Array(ValueType::kInt32, {Value::Int(ValueType::kInt32, 1)}),
                              Value::Array(ValueType::kInt32, {})};
  w.Set("a.nested", Value::Array(ValueType::kArray, inner));
  std::vector<float> data(256 * 2, 0.5f);
  w.AddTensor("t0", 0, {256, 2}, {reinterpret_cast<const uint8_t*>(data.data()), data.size() * 4});
  std::vector<uint8_t> tq2(66, 0xAA);
  w.AddTensor("t1", 35, {256, 1}, tq2);

  auto file = GgufFile::FromBytes(w.ToBytes());
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset() % 64, 0u);
  EXPECT_EQ(file.GetString("general.architecture"), "bitnet-b1.58");
  EXPECT_EQ(file.GetInt("a.u32"), 4000000000ll);
  EXPECT_EQ(file.GetInt("a.i32"), -7);
  EXPECT_EQ(file.GetFloat("a.f32"), 1.5);
  EXPECT_EQ(file.GetBool("a.bool"), true);
  EXPECT_EQ(file.GetInt("a.u8"), 255);
  EXPECT_EQ(file.GetInt("a.i8"), -128);
  EXPECT_EQ(file.GetInt("a.u16"), 65535);
  EXPECT_EQ(file.GetInt("a.i16"), -32768);
  EXPECT_EQ(file.GetInt("a.u64"), 1ll << 40);
  EXPECT_EQ(file.GetInt("a.i64"), -(1ll << 40));
  EXPECT_EQ(file.GetFloat("a.f64"), 0.125);
  EXPECT_EQ(file.GetStringArray("a.strs"), (std::vector<std::string>{"x", "", "zz"}));
  EXPECT_EQ(file.GetFloatArray("a.f32s"), (std::vector<float>{1.0f, -2.0f}));
  const auto& nested = file.Find("a.nested")->AsArray("a.nested");
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested[0].AsArray("x")[0].AsInt("x"), 1);
  EXPECT_TRUE(nested[1].AsArray("x").empty());
  EXPECT_FALSE(file.GetInt("missing"));
  EXPECT_THROW(file.GetString("a.u32"), GgufError);  // present with the wrong type

  ASSERT_EQ(file.tensors().size(), 2u);
  const TensorInfo* t0 = file.FindTensor("t0");
  ASSERT_NE(t0, nullptr);
  EXPECT_EQ(t0->dims, (std::vector<uint64_t>{256, 2}));
  EXPECT_EQ(t0->rows(), 2u);
  auto bytes = file.TensorData(*t0);
  ASSERT_EQ(bytes.size(), 2048u);
  float first;
  std::memcpy(&first, bytes.data(), 4);
  EXPECT_EQ(first, 0.5f);
  const TensorInfo* t1 = file.FindTensor("t1");
  ASSERT_NE(t1, nullptr);
  EXPECT_EQ(t1->type(), TensorType::kTQ2_0);
  EXPECT_EQ(file.TensorData(*t1)[65], 0xAA);
}

TEST(GgufRoundTrip, WriteFileThenOpenByMmap) {
  GgufWriter w;
  w.SetString("general.name", "roundtrip");
  std::vector<uint8_t> i2s(256 / 4 + 32, 0x55);
  w.AddTensor("w", 36, {256, 1}, i2s);
  const auto path = std::filesystem::temp_directory_path() / "ts_gguf_roundtrip.gguf";
  w.WriteFile(path.string());
  auto file = GgufFile::Open(path.string());
  EXPECT_EQ(file.GetString("general.name"), "roundtrip");
  EXPECT_EQ(file.FindTensor("w")->n_bytes, 96u);
  EXPECT_EQ(file.TensorData(*file.FindTensor("w"))[0], 0x55);
  file.ReleaseTensorPages(*file.FindTensor("w"));  // must be harmless
  GgufFile moved = std::move(file);
  EXPECT_EQ(moved.TensorData(*moved.FindTensor("w"))[1], 0x55);
  std::filesystem::remove(path);
}

TEST(GgufWriter, RejectsPayloadOfWrongSize) {
  GgufWriter w;
  std::vector<uint8_t> bad(10);
  EXPECT_THROW(w.AddTensor("w", 35, {256, 1}, bad), GgufError);
}

TEST(GgufFixtures, TinyModelsOpenWithExpectedShape) {
  for (const char* name : {"tiny-v512-f32", "tiny-v512-i2_s", "tiny-v512-tq2_0", "tiny-v512-tq1_0",
                           "tiny-v512-scaled-tq2_0-embf16", "tiny-gpt2-tq2_0"}) {
    SCOPED_TRACE(name);
    auto file = GgufFile::Open(kFixtures + "/models/" + name + ".gguf");
    EXPECT_EQ(file.GetString("general.architecture"), "bitnet");
    EXPECT_EQ(file.GetInt("bitnet.block_count"), 4);
    EXPECT_EQ(file.GetInt("bitnet.embedding_length"), 256);
    const TensorInfo* q = file.FindTensor("blk.0.attn_q.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->dims, (std::vector<uint64_t>{256, 256}));
    EXPECT_NE(file.FindTensor("token_embd.weight"), nullptr);
  }
}

TEST(GgufFixtures, VocabFiles) {
  auto gpt2 = GgufFile::Open(kFixtures + "/tokenizer/ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(gpt2.GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(gpt2.GetStringArray("tokenizer.ggml.tokens").size(), 50257u);
  auto spm = GgufFile::Open(kFixtures + "/tokenizer/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(spm.GetString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(spm.GetFloatArray("tokenizer.ggml.scores").size(), 32000u);
}

}  // namespace
}  // namespace ts::gguf
