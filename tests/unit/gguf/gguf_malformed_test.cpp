// Hostile and broken GGUF images: each must raise GgufError with a useful
// message, never crash or read out of bounds (run under ASan in CI).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_writer.h"

namespace ts::gguf {
namespace {

std::vector<uint8_t> SmallValidFile() {
  GgufWriter w;
  w.SetString("general.architecture", "bitnet");
  w.SetStringArray("tokenizer.ggml.tokens", {"a", "b", "c"});
  std::vector<float> data(256, 1.0f);
  w.AddTensor("tensor_a", 0, {256}, {reinterpret_cast<const uint8_t*>(data.data()), 1024});
  w.AddTensor("tensor_b", 0, {256}, {reinterpret_cast<const uint8_t*>(data.data()), 1024});
  return w.ToBytes();
}

// Returns the error text of parsing `bytes`, or "" if it parsed.
std::string ParseError(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::FromBytes(bytes);
  } catch (const GgufError& e) {
    return e.what();
  }
  return "";
}

template <class T>
void Poke(std::vector<uint8_t>& bytes, size_t offset, T v) {
  std::memcpy(bytes.data() + offset, &v, sizeof(T));
}

size_t Find(const std::vector<uint8_t>& bytes, const std::string& needle) {
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  EXPECT_NE(it, bytes.end()) << needle;
  return static_cast<size_t>(it - bytes.begin());
}

TEST(GgufMalformed, EveryTruncationIsAnError) {
  const auto full = SmallValidFile();
  ASSERT_EQ(ParseError(full), "");
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(n));
    EXPECT_NE(ParseError(cut), "") << "prefix of " << n << " bytes parsed";
  }
}

TEST(GgufMalformed, BadMagicAndVersion) {
  auto bytes = SmallValidFile();
  bytes[0] = 'X';
  EXPECT_NE(ParseError(bytes).find("bad magic"), std::string::npos);
  bytes = SmallValidFile();
  Poke<uint32_t>(bytes, 4, 1);
  EXPECT_NE(ParseError(bytes).find("version 1"), std::string::npos);
  Poke<uint32_t>(bytes, 4, 0x03000000);
  EXPECT_NE(ParseError(bytes).find("big-endian"), std::string::npos);
}

TEST(GgufMalformed, HugeCounts) {
  auto bytes = SmallValidFile();
  Poke<uint64_t>(bytes, 8, ~0ull);
  EXPECT_NE(ParseError(bytes).find("tensor count"), std::string::npos);
  bytes = SmallValidFile();
  Poke<uint64_t>(bytes, 16, 1ull << 60);
  EXPECT_NE(ParseError(bytes).find("metadata count"), std::string::npos);
  // The string array's element count sits right after its element type.
  bytes = SmallValidFile();
  const size_t key = Find(bytes, "tokenizer.ggml.tokens");
  const size_t count_at = key + std::strlen("tokenizer.ggml.tokens") + 4 + 4;
  Poke<uint64_t>(bytes, count_at, 1ull << 62);
  EXPECT_NE(ParseError(bytes).find("array count"), std::string::npos);
}

TEST(GgufMalformed, BadStringLength) {
  auto bytes = SmallValidFile();
  const size_t key = Find(bytes, "general.architecture");
  Poke<uint64_t>(bytes, key - 8, 1ull << 40);
  EXPECT_NE(ParseError(bytes).find("string length"), std::string::npos);
}

TEST(GgufMalformed, BadValueTypeAndBool) {
  auto bytes = SmallValidFile();
  const size_t key = Find(bytes, "general.architecture");
  Poke<uint32_t>(bytes, key + std::strlen("general.architecture"), 77);
  EXPECT_NE(ParseError(bytes).find("invalid value type 77"), std::string::npos);

  GgufWriter w;
  w.SetBool("flag", true);
  auto b = w.ToBytes();
  b[Find(b, "flag") + 4 + 4] = 7;  // key, then the u32 value type, then the bool byte
  EXPECT_NE(ParseError(b).find("bool byte 7"), std::string::npos);
}

TEST(GgufMalformed, TensorProblems) {
  std::vector<float> data(256, 1.0f);
  std::span<const uint8_t> payload{reinterpret_cast<const uint8_t*>(data.data()), 1024};
  {
    GgufWriter w;  // tensor beyond the end of the file
    w.AddRawTensor("big", 0, {256, 1000}, std::vector<uint8_t>(1024));
    EXPECT_NE(ParseError(w.ToBytes()).find("extends past the end"), std::string::npos);
  }
  {
    GgufWriter w;  // unknown type id
    w.AddRawTensor("odd", 99, {256}, std::vector<uint8_t>(1024));
    EXPECT_NE(ParseError(w.ToBytes()).find("unknown tensor type id 99"), std::string::npos);
  }
  {
    GgufWriter w;  // duplicate names
    w.AddTensor("same", 0, {256}, payload);
    w.AddTensor("same", 0, {256}, payload);
    EXPECT_NE(ParseError(w.ToBytes()).find("duplicate tensor 'same'"), std::string::npos);
  }
  {
    GgufWriter w;  // zero and absurd dimensions, too many dims
    w.AddRawTensor("z", 0, {0}, {});
    EXPECT_NE(ParseError(w.ToBytes()).find("dimension 0 = 0"), std::string::npos);
    GgufWriter w2;
    w2.AddRawTensor("huge", 0, {1ull << 40, 1ull << 40}, {});
    EXPECT_NE(ParseError(w2.ToBytes()).find("impossibly large"), std::string::npos);
    GgufWriter w3;
    w3.AddRawTensor("5d", 0, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4));
    EXPECT_NE(ParseError(w3.ToBytes()).find("5 dimensions"), std::string::npos);
  }
  auto bytes = SmallValidFile();
  // A tensor info is (name, n_dims u32, dims u64..., type u32, offset u64). Point b onto a.
  const size_t b_info = Find(bytes, "tensor_b") + 8;
  const size_t b_offset_at = b_info + 4 + 8 + 4;
  Poke<uint64_t>(bytes, b_offset_at, 0);
  EXPECT_NE(ParseError(bytes).find("overlap"), std::string::npos);
  Poke<uint64_t>(bytes, b_offset_at, 1030);  // not a multiple of 32
  EXPECT_NE(ParseError(bytes).find("not aligned"), std::string::npos);
  Poke<uint64_t>(bytes, b_offset_at, ~0ull - 31);
  EXPECT_NE(ParseError(bytes).find("past the end"), std::string::npos);
  // Row length that the type's block cannot hold.
  GgufWriter w;
  w.AddRawTensor("tq", 35, {100, 1}, std::vector<uint8_t>(66));
  EXPECT_NE(ParseError(w.ToBytes()).find("not a multiple of TQ2_0's block"), std::string::npos);
}

TEST(GgufMalformed, BadAlignment) {
  GgufWriter w;
  w.SetU32("general.alignment", 48);
  EXPECT_NE(ParseError(w.ToBytes()).find("power of two"), std::string::npos);
  GgufWriter w2;
  w2.SetString("general.alignment", "32");
  EXPECT_NE(ParseError(w2.ToBytes()).find("general.alignment"), std::string::npos);
}

TEST(GgufMalformed, DuplicateKeyAndDeepNesting) {
  GgufWriter w;
  w.SetU32("k", 1);
  auto b = w.ToBytes();
  // Append a second copy of the key/value (8-byte length, "k", u32 type, u32 value) and bump the count.
  const std::vector<uint8_t> kv(b.begin() + 24, b.begin() + 24 + 17);
  b.resize(24 + 17);
  b.insert(b.end(), kv.begin(), kv.end());
  Poke<uint64_t>(b, 16, 2);
  EXPECT_NE(ParseError(b).find("duplicate metadata key 'k'"), std::string::npos);

  Value v = Value::Int(ValueType::kInt32, 1);
  for (int d = 0; d < 6; ++d) v = Value::Array(d == 0 ? ValueType::kInt32 : ValueType::kArray, {v});
  GgufWriter deep;
  deep.Set("deep", v);
  EXPECT_NE(ParseError(deep.ToBytes()).find("nested too deeply"), std::string::npos);
}

TEST(GgufMalformed, RandomByteFlipsNeverCrash) {
  const auto full = SmallValidFile();
  uint32_t state = 12345;
  for (int iter = 0; iter < 3000; ++iter) {
    auto bytes = full;
    for (int k = 0; k < 3; ++k) {
      state = state * 1664525u + 1013904223u;
      const size_t pos = (state >> 8) % bytes.size();
      bytes[pos] = static_cast<uint8_t>(state >> 24);
    }
    (void)ParseError(bytes);  // either parses or throws GgufError; ASan checks the rest
  }
}

TEST(GgufMalformed, OpenReportsMissingAndEmptyFiles) {
  EXPECT_THROW(GgufFile::Open("/nonexistent/model.gguf"), GgufError);
  EXPECT_THROW(GgufFile::Open("/dev/null"), GgufError);
}

}  // namespace
}  // namespace ts::gguf
