#include "server/options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

namespace ts::server {
namespace {

struct FakeEnv {
  std::map<std::string, std::string> vars;
  EnvLookup Lookup() const {
    return [this](const std::string& name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

std::string WriteConfig(const std::string& text) {
  // One file per test: ctest runs the cases of this binary in parallel processes.
  const std::string path = ::testing::TempDir() + "/ternserve-options-" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json";
  std::ofstream(path) << text;
  return path;
}

TEST(Options, Defaults) {
  FakeEnv env;
  const ServerOptions o = ResolveOptions({}, env.Lookup());
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 8080);
  EXPECT_EQ(o.kv_type, "q8");
  EXPECT_EQ(o.parallel, 16);
  EXPECT_EQ(o.model, "");
}

TEST(Options, PrecedenceFlagsEnvConfigDefaults) {
  const std::string config = WriteConfig(
      R"({"_doc": {"port": "ignored"}, "port": 1111, "threads": 3, "kv_memory": "1GiB", "host": "0.0.0.0"})");
  FakeEnv env;
  env.vars["TERNSERVE_PORT"] = "2222";
  env.vars["TERNSERVE_THREADS"] = "5";
  const ServerOptions o =
      ResolveOptions({"--config", config, "--port", "3333"}, env.Lookup());
  EXPECT_EQ(o.port, 3333);                  // flag beats env and config
  EXPECT_EQ(o.threads, 5);                  // env beats config
  EXPECT_EQ(o.host, "0.0.0.0");             // config beats default
  EXPECT_EQ(o.kv_memory_bytes, 1ull << 30);
  EXPECT_EQ(o.batch_tokens, 64);  // default
}

TEST(Options, ConfigFromEnvironment) {
  const std::string config = WriteConfig(R"({"ctx_size": 512, "api_key": "k"})");
  FakeEnv env;
  env.vars["TERNSERVE_CONFIG"] = config;
  const ServerOptions o = ResolveOptions({"--kv-type", "q4", "-m", "x.gguf"}, env.Lookup());
  EXPECT_EQ(o.ctx_size, 512);
  EXPECT_EQ(o.api_key, "k");
  EXPECT_EQ(o.kv_type, "q4");
  EXPECT_EQ(o.model, "x.gguf");
}

TEST(Options, Errors) {
  FakeEnv env;
  EXPECT_THROW(ResolveOptions({"--port", "abc"}, env.Lookup()), OptionsError);
  EXPECT_THROW(ResolveOptions({"--kv-type", "q3"}, env.Lookup()), OptionsError);
  EXPECT_THROW(ResolveOptions({"--no-such-flag"}, env.Lookup()), OptionsError);
  EXPECT_THROW(ResolveOptions({"--chat-template", "jinja"}, env.Lookup()), OptionsError);
  EXPECT_THROW(ResolveOptions({"--log-level", "loud"}, env.Lookup()), OptionsError);
  EXPECT_THROW(ResolveOptions({"--config", "/nonexistent/x.json"}, env.Lookup()), OptionsError);
  EXPECT_THROW(ResolveOptions({"--config", WriteConfig(R"({"prot": 1})")}, env.Lookup()),
               OptionsError);
  EXPECT_THROW(ResolveOptions({"--config", WriteConfig(R"({"port": "1"})")}, env.Lookup()),
               OptionsError);
  env.vars["TERNSERVE_PARALLEL"] = "many";
  EXPECT_THROW(ResolveOptions({}, env.Lookup()), OptionsError);
  EXPECT_THROW(ResolveOptions({"--help"}, FakeEnv{}.Lookup()), OptionsExit);
}

TEST(Options, ByteSizes) {
  EXPECT_EQ(ParseByteSize("2GiB"), 2ull << 30);
  EXPECT_EQ(ParseByteSize("512MiB"), 512ull << 20);
  EXPECT_EQ(ParseByteSize("512 mib"), 512ull << 20);
  EXPECT_EQ(ParseByteSize("1.5G"), 3ull << 29);
  EXPECT_EQ(ParseByteSize("1000"), 1000u);
  EXPECT_EQ(ParseByteSize("2GB"), 2000000000u);
  EXPECT_THROW(ParseByteSize("lots"), OptionsError);
  EXPECT_THROW(ParseByteSize("2XB"), OptionsError);
  EXPECT_THROW(ParseByteSize("-1G"), OptionsError);
}

TEST(Options, EngineMapping) {
  ServerOptions o;
  o.model = "/models/ggml-model-i2_s.gguf";
  o.threads = 4;
  o.ctx_size = 1024;
  o.kv_memory_bytes = 123;
  o.kv_type = "f16";
  const EngineOptions e = ToEngineOptions(o);
  EXPECT_EQ(e.model_path, o.model);
  EXPECT_EQ(e.threads, 4);
  EXPECT_EQ(e.ctx_size, 1024);
  EXPECT_EQ(e.kv_memory_bytes, 123u);
  EXPECT_EQ(e.kv_type, "f16");
  EXPECT_EQ(ModelId(o), "ggml-model-i2_s");
  o.model_alias = "bitnet";
  EXPECT_EQ(ModelId(o), "bitnet");
}

TEST(Options, ShippedConfigIsValidAndDefault) {
  FakeEnv env;
  const ServerOptions shipped = ResolveOptions(
      {"--config", std::string(TS_SOURCE_DIR) + "/config/ternserve.json"}, env.Lookup());
  const ServerOptions defaults = ResolveOptions({}, env.Lookup());
  EXPECT_EQ(shipped.port, defaults.port);
  EXPECT_EQ(shipped.host, defaults.host);
  EXPECT_EQ(shipped.kv_type, defaults.kv_type);
  EXPECT_EQ(shipped.max_body_bytes, defaults.max_body_bytes);
}

}  // namespace
}  // namespace ts::server
