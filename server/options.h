// ServerOptions: every setting of `ternserve`, from four sources with the precedence
// flags > TERNSERVE_* environment > JSON config file (--config) > defaults.
// One table in options.cpp names each option once for all sources; config/ternserve.json
// documents them. JSON keys use '_' where flags use '-' (ctx_size / --ctx-size /
// TERNSERVE_CTX_SIZE).
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace ts::server {

struct ServerOptions {
  std::string config;               // JSON config file ("" = none)
  std::string model;                // GGUF path ("" = the built-in model)
  std::string model_alias;          // id in /v1/models ("" = the model file's stem)
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0 = any free port
  int threads = 0;                  // compute threads (0 = physical cores)
  int ctx_size = 0;                 // tokens per sequence (0 = the model's context)
  int parallel = 16;                // sequences running at once
  int batch_tokens = 64;            // tokens per forward step
  int max_queue = 64;               // waiting requests before 503
  std::string kv_type = "q8";       // f32 | f16 | q8 | q4
  uint64_t kv_memory_bytes = 0;     // "2GiB", "512MiB" (0 = auto)
  std::string head = "auto";        // output head storage: auto | f32 | f16 | q8 | q4
  std::string api_key;              // Bearer key ("" = no auth)
  std::string chat_template;        // family override: bitnet | llama3 | chatml | llama2 | falcon3
  uint64_t max_body_bytes = 8ull << 20;  // request body limit (413 above)
  int timeout_s = 600;              // socket read/write timeout
  int shutdown_timeout_s = 10;      // drain deadline on SIGTERM before in-flight work is cancelled
  int http_threads = 0;             // HTTP worker threads kept ready (0 = parallel + max_queue + 4)
  int max_n = 8;                    // cap on n (choices per request)
  std::string cors_origin = "*";    // Access-Control-Allow-Origin ("" = no CORS headers)
  std::string log_level = "info";   // trace | debug | info | warn | error
};

class OptionsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Thrown for --help / --version: `what()` is the text to print, exit code 0.
class OptionsExit : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Environment lookup (getenv in main, a map in tests); nullptr = unset.
using EnvLookup = std::function<const char*(const std::string& name)>;

// Returns the options from `args` (without argv[0]), the environment and the config file
// named by --config or TERNSERVE_CONFIG. Throws OptionsError (bad value, unknown config
// key, unreadable file) or OptionsExit (--help).
ServerOptions ResolveOptions(const std::vector<std::string>& args, const EnvLookup& env);

// Parses "2GiB", "512MiB", "1.5G", "4096" (bytes) into bytes; throws OptionsError.
uint64_t ParseByteSize(const std::string& text);

// The engine's options for these server options (model path already resolved).
EngineOptions ToEngineOptions(const ServerOptions& options);

// The model id clients see: the alias, else the model file's stem.
std::string ModelId(const ServerOptions& options);

}  // namespace ts::server
