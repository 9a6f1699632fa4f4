#include "server/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

namespace ts::server {
namespace {

using nlohmann::json;

enum class Type { kString, kInt, kBytes, kBool };

struct OptionDef {
  const char* name;   // flag name without dashes, kebab-case
  const char* alias;  // short flag ("-m") or nullptr
  Type type;
  const char* help;
  std::string ServerOptions::* str = nullptr;
  int ServerOptions::* integer = nullptr;
  uint64_t ServerOptions::* bytes = nullptr;
};

OptionDef Str(const char* name, const char* alias, std::string ServerOptions::* field, const char* help) {
  return {name, alias, Type::kString, help, field, nullptr, nullptr};
}
OptionDef Int(const char* name, const char* alias, int ServerOptions::* field, const char* help) {
  return {name, alias, Type::kInt, help, nullptr, field, nullptr};
}
OptionDef Bytes(const char* name, uint64_t ServerOptions::* field, const char* help) {
  return {name, nullptr, Type::kBytes, help, nullptr, nullptr, field};
}

// The one table of options. `config` is handled apart (it names the file to read).
const std::vector<OptionDef>& Table() {
  static const std::vector<OptionDef> table = {
      Str("model", "-m", &ServerOptions::model, "GGUF model file (default: the built-in model)"),
      Str("model-alias", nullptr, &ServerOptions::model_alias,
          "model id shown in /v1/models (default: the file's stem)"),
      Str("host", nullptr, &ServerOptions::host, "address to listen on"),
      Int("port", nullptr, &ServerOptions::port, "TCP port (0 = any free port)"),
      Int("threads", "-t", &ServerOptions::threads, "compute threads (0 = physical cores)"),
      Int("ctx-size", "-c", &ServerOptions::ctx_size,
          "max tokens per sequence, prompt + output (0 = the model's context)"),
      Int("parallel", nullptr, &ServerOptions::parallel, "max sequences running at once"),
      Int("batch-tokens", nullptr, &ServerOptions::batch_tokens, "max tokens per forward step"),
      Int("max-queue", nullptr, &ServerOptions::max_queue,
          "waiting requests beyond which new ones get 503"),
      Str("kv-type", nullptr, &ServerOptions::kv_type, "KV cache storage: f32 | f16 | q8 | q4"),
      Bytes("kv-memory", &ServerOptions::kv_memory_bytes,
            "KV cache budget, e.g. 2GiB or 512MiB (0 = derived from free RAM)"),
      Str("head", nullptr, &ServerOptions::head,
          "output head storage: auto (q8 from 32M weights, else as shipped) | f32 | f16 | q8 | q4"),
      Str("api-key", nullptr, &ServerOptions::api_key,
          "require 'Authorization: Bearer <key>' on /v1/* (empty = open)"),
      Str("chat-template", nullptr, &ServerOptions::chat_template,
          "chat format override: bitnet | llama3 | chatml | llama2 | falcon3"),
      Bytes("max-body-bytes", &ServerOptions::max_body_bytes, "request body limit (413 above)"),
      Int("timeout", nullptr, &ServerOptions::timeout_s,
          "socket write timeout, seconds (reading a request: at most 30)"),
      Int("shutdown-timeout", nullptr, &ServerOptions::shutdown_timeout_s,
          "on SIGTERM/SIGINT: seconds to let requests finish before cancelling them"),
      Int("http-threads", nullptr, &ServerOptions::http_threads,
          "HTTP worker threads kept ready (0 = parallel + max-queue + 4; more start on demand)"),
      Int("max-n", nullptr, &ServerOptions::max_n, "largest n (choices) a request may ask for"),
      Str("cors-origin", nullptr, &ServerOptions::cors_origin,
          "Access-Control-Allow-Origin value (empty = no CORS headers)"),
      Str("log-level", nullptr, &ServerOptions::log_level, "trace | debug | info | warn | error"),
  };
  return table;
}

std::string JsonKey(const char* name) {
  std::string key = name;
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

std::string EnvName(const char* name) {
  std::string env = "TERNSERVE_" + JsonKey(name);
  for (char& c : env) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

int ParseIntStrict(const std::string& text, const std::string& what) {
  try {
    size_t used = 0;
    const long v = std::stol(text, &used);
    if (used == text.size() && v >= INT32_MIN && v <= INT32_MAX) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  throw OptionsError(what + ": '" + text + "' is not an integer");
}

void SetFromString(ServerOptions& o, const OptionDef& def, const std::string& value,
                   const std::string& source) {
  const std::string what = source == "flag" ? std::string("--") + def.name : source;
  switch (def.type) {
    case Type::kString: o.*def.str = value; break;
    case Type::kInt: o.*def.integer = ParseIntStrict(value, what); break;
    case Type::kBytes:
      try {
        o.*def.bytes = ParseByteSize(value);
      } catch (const OptionsError& e) {
        throw OptionsError(what + ": " + e.what());
      }
      break;
    case Type::kBool: break;
  }
}

void SetFromJson(ServerOptions& o, const OptionDef& def, const json& value,
                 const std::string& source) {
  const std::string what = source + ": '" + JsonKey(def.name) + "'";
  switch (def.type) {
    case Type::kString:
      if (!value.is_string()) throw OptionsError(what + " must be a string");
      o.*def.str = value.get<std::string>();
      break;
    case Type::kInt:
      if (!value.is_number_integer()) throw OptionsError(what + " must be an integer");
      o.*def.integer = value.get<int>();
      break;
    case Type::kBytes:
      if (value.is_number_unsigned()) {
        o.*def.bytes = value.get<uint64_t>();
      } else if (value.is_string()) {
        SetFromString(o, def, value.get<std::string>(), source);
      } else {
        throw OptionsError(what + " must be a byte count or a string like \"2GiB\"");
      }
      break;
    case Type::kBool: break;
  }
}

void ApplyConfigFile(ServerOptions& o, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw OptionsError("cannot read config file '" + path + "'");
  json config = json::parse(in, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (config.is_discarded() || !config.is_object()) {
    throw OptionsError("config file '" + path + "' is not a JSON object");
  }
  for (const auto& [key, value] : config.items()) {
    if (!key.empty() && key[0] == '_') continue;  // "_doc" and other notes
    if (key == "config") continue;
    const auto& table = Table();
    const auto def = std::find_if(table.begin(), table.end(),
                                  [&](const OptionDef& d) { return JsonKey(d.name) == key; });
    if (def == table.end()) throw OptionsError("config file '" + path + "': unknown key '" + key + "'");
    if (value.is_null()) continue;
    SetFromJson(o, *def, value, "config file '" + path + "'");
  }
}

void Validate(const ServerOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw OptionsError(message);
  };
  require(o.port >= 0 && o.port <= 65535, "port must be in 0..65535");
  require(o.threads >= 0, "threads must be >= 0");
  require(o.ctx_size >= 0, "ctx-size must be >= 0");
  require(o.parallel >= 1, "parallel must be >= 1");
  require(o.batch_tokens >= 1, "batch-tokens must be >= 1");
  require(o.max_queue >= 0, "max-queue must be >= 0");
  require(o.kv_type == "f32" || o.kv_type == "f16" || o.kv_type == "q8" || o.kv_type == "q4",
          "kv-type must be f32, f16, q8 or q4");
  require(o.head == "auto" || o.head == "f32" || o.head == "f16" || o.head == "q8" || o.head == "q4",
          "head must be auto, f32, f16, q8 or q4");
  require(o.max_body_bytes >= 1024, "max-body-bytes must be at least 1024");
  require(o.timeout_s >= 1, "timeout must be >= 1");
  require(o.shutdown_timeout_s >= 0, "shutdown-timeout must be >= 0");
  require(o.http_threads >= 0, "http-threads must be >= 0");
  require(o.max_n >= 1, "max-n must be >= 1");
  require(o.log_level == "trace" || o.log_level == "debug" || o.log_level == "info" ||
              o.log_level == "warn" || o.log_level == "error",
          "log-level must be trace, debug, info, warn or error");
  require(o.chat_template.empty() || o.chat_template == "bitnet" || o.chat_template == "llama3" ||
              o.chat_template == "chatml" || o.chat_template == "llama2" ||
              o.chat_template == "falcon3",
          "chat-template must be bitnet, llama3, chatml, llama2 or falcon3");
}

}  // namespace

uint64_t ParseByteSize(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw OptionsError("'" + text + "' is not a size (e.g. 2GiB, 512MiB)");
  }
  std::string unit = text.substr(used);
  unit.erase(0, unit.find_first_not_of(' '));
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, double> kUnits = {
      {"", 1},       {"b", 1},          {"k", 1024.0},         {"kb", 1e3},          {"kib", 1024.0},
      {"m", 1 << 20}, {"mb", 1e6},       {"mib", 1 << 20},      {"g", 1 << 30},       {"gb", 1e9},
      {"gib", 1 << 30}, {"t", 1099511627776.0}, {"tb", 1e12}, {"tib", 1099511627776.0}};
  const auto it = kUnits.find(unit);
  if (it == kUnits.end() || !(value >= 0) || !std::isfinite(value)) {
    throw OptionsError("'" + text + "' is not a size (e.g. 2GiB, 512MiB)");
  }
  return static_cast<uint64_t>(std::llround(value * it->second));
}

ServerOptions ResolveOptions(const std::vector<std::string>& args, const EnvLookup& env) {
  CLI::App app("ternserve: OpenAI-compatible server for ternary (BitNet b1.58) models.\n"
               "Precedence: flags > TERNSERVE_* environment > --config file > defaults.",
               "ternserve");
  app.set_version_flag("--version", std::string("ternserve 0.1.0"));
  std::string config_flag;
  app.add_option("--config", config_flag, "JSON config file (keys as flags with '_' for '-')");
  const auto& table = Table();
  std::vector<std::string> raw(table.size());
  std::vector<CLI::Option*> cli_options(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    std::string names = std::string("--") + table[i].name;
    if (table[i].alias) names = std::string(table[i].alias) + "," + names;
    cli_options[i] = app.add_option(names, raw[i], table[i].help);
  }
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    throw OptionsExit(app.help());
  } catch (const CLI::CallForVersion&) {
    throw OptionsExit("ternserve 0.1.0\n");
  } catch (const CLI::ParseError& e) {
    throw OptionsError(e.what());
  }

  ServerOptions o;
  o.config = config_flag;
  if (o.config.empty()) {
    if (const char* v = env("TERNSERVE_CONFIG"); v && *v) o.config = v;
  }
  if (!o.config.empty()) ApplyConfigFile(o, o.config);
  for (const OptionDef& def : table) {
    const std::string name = EnvName(def.name);
    if (const char* v = env(name); v != nullptr) SetFromString(o, def, v, "environment " + name);
  }
  for (size_t i = 0; i < table.size(); ++i) {
    if (cli_options[i]->count() > 0) SetFromString(o, table[i], raw[i], "flag");
  }
  Validate(o);
  return o;
}

EngineOptions ToEngineOptions(const ServerOptions& o) {
  EngineOptions e;
  e.model_path = o.model;
  e.head = o.head;
  e.threads = o.threads;
  e.ctx_size = o.ctx_size;
  e.parallel = o.parallel;
  e.batch_tokens = o.batch_tokens;
  e.max_queue = o.max_queue;
  e.kv_type = o.kv_type;
  e.kv_memory_bytes = o.kv_memory_bytes;
  return e;
}

std::string ModelId(const ServerOptions& o) {
  if (!o.model_alias.empty()) return o.model_alias;
  return std::filesystem::path(o.model).stem().string();
}

}  // namespace ts::server
