// Broken or inconsistent model files are refused with a message naming what is
// wrong, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/model/model.h"

namespace ts::model {
namespace {

const std::string kFixture = std::string(TS_FIXTURES_DIR) + "/models/tiny-v512-i2_s.gguf";

// Rewrites the fixture with `edit` applied to its metadata and tensors.
std::string Rewrite(const std::string& name,
                    const std::function<void(gguf::GgufWriter&, const gguf::GgufFile&, const gguf::TensorInfo&)>& tensor_hook,
                    const std::function<void(gguf::GgufWriter&)>& meta_hook) {
  const auto src = gguf::GgufFile::Open(kFixture);
  gguf::GgufWriter w;
  for (const auto& kv : src.metadata()) w.Set(kv.key, kv.value);
  meta_hook(w);
  for (const auto& t : src.tensors()) tensor_hook(w, src, t);
  const auto path = (std::filesystem::temp_directory_path() / ("ts_load_" + name + ".gguf")).string();
  w.WriteFile(path);
  return path;
}

void CopyTensor(gguf::GgufWriter& w, const gguf::GgufFile& src, const gguf::TensorInfo& t) {
  w.AddTensor(t.name, t.type_id, t.dims, src.TensorData(t));
}

std::string LoadError(const std::string& path) {
  try {
    Model::Load({path, HeadPrecision::kAuto});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(ModelLoad, TheUnmodifiedRewriteLoads) {
  EXPECT_EQ(LoadError(Rewrite("same", CopyTensor, [](gguf::GgufWriter&) {})), "");
}

TEST(ModelLoad, TruncatedFile) {
  const auto path = (std::filesystem::temp_directory_path() / "ts_load_truncated.gguf").string();
  std::filesystem::copy_file(kFixture, path, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  EXPECT_NE(LoadError(path).find("truncated"), std::string::npos) << LoadError(path);
}

TEST(ModelLoad, MissingTensorIsNamed) {
  const auto path = Rewrite("missing", [](gguf::GgufWriter& w, const gguf::GgufFile& src, const gguf::TensorInfo& t) {
    if (t.name != "blk.2.ffn_down.weight") CopyTensor(w, src, t);
  }, [](gguf::GgufWriter&) {});
  EXPECT_NE(LoadError(path).find("missing tensor 'blk.2.ffn_down.weight'"), std::string::npos) << LoadError(path);
}

TEST(ModelLoad, WrongShapeIsNamed) {
  const auto path = Rewrite("shape", [](gguf::GgufWriter& w, const gguf::GgufFile& src, const gguf::TensorInfo& t) {
    if (t.name == "blk.1.attn_norm.weight") {
      std::vector<uint8_t> bytes(128 * 4);
      w.AddTensor(t.name, 0, {128}, bytes);
    } else {
      CopyTensor(w, src, t);
    }
  }, [](gguf::GgufWriter&) {});
  EXPECT_NE(LoadError(path).find("'blk.1.attn_norm.weight' has shape {128}"), std::string::npos) << LoadError(path);
}

TEST(ModelLoad, InconsistentAndMissingKeys) {
  auto path = Rewrite("kv_heads", CopyTensor, [](gguf::GgufWriter& w) { w.SetU32("bitnet.attention.head_count_kv", 3); });
  EXPECT_NE(LoadError(path).find("head_count_kv = 3 does not divide"), std::string::npos) << LoadError(path);
  path = Rewrite("arch", CopyTensor, [](gguf::GgufWriter& w) { w.SetString("general.architecture", "mamba"); });
  EXPECT_NE(LoadError(path).find("unsupported architecture 'mamba'"), std::string::npos) << LoadError(path);
  path = Rewrite("vocab", CopyTensor, [](gguf::GgufWriter& w) { w.SetU32("bitnet.vocab_size", 999); });
  EXPECT_NE(LoadError(path).find("vocab_size 999 disagrees"), std::string::npos) << LoadError(path);
  path = Rewrite("wrongtype", CopyTensor, [](gguf::GgufWriter& w) { w.SetString("bitnet.block_count", "four"); });
  EXPECT_NE(LoadError(path).find("bitnet.block_count"), std::string::npos) << LoadError(path);
}

TEST(ModelLoad, UnsupportedTensorTypeIsNamed) {
  const auto path = Rewrite("q4", [](gguf::GgufWriter& w, const gguf::GgufFile& src, const gguf::TensorInfo& t) {
    if (t.name == "blk.0.attn_q.weight") {
      w.AddTensor(t.name, 2, t.dims, std::vector<uint8_t>(256 * 256 / 32 * 18));  // Q4_0
    } else {
      CopyTensor(w, src, t);
    }
  }, [](gguf::GgufWriter&) {});
  const std::string error = LoadError(path);
  EXPECT_NE(error.find("blk.0.attn_q.weight"), std::string::npos) << error;
  EXPECT_NE(error.find("Q4_0"), std::string::npos) << error;
}

}  // namespace
}  // namespace ts::model
