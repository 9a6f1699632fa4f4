// The HTTP front end: one route table over cpp-httplib, auth, CORS, body limit, error
// mapping, /health and /metrics. Listens before the model is loaded (health answers
// 503 "loading" meanwhile); SetBackend makes the API routes live.
//
// Not here: wire-format details (request.h, response.h), the per-request generation
// loop (generation.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "server/backend.h"
#include "server/metrics.h"
#include "server/options.h"

namespace ts::server {

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();  // Shutdown(0) if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds options.host:options.port (0 = any free port) and serves on a background
  // thread. Returns the bound port; throws std::runtime_error when binding fails.
  int Start();
  int port() const;

  // Makes the model live; chooses the chat family (throws std::invalid_argument for a
  // bad --chat-template). The server owns the backend from here on.
  void SetBackend(std::unique_ptr<Backend> backend);
  // Loading failed: /health answers 500 with the message.
  void SetLoadError(const std::string& message);

  // Graceful stop: new generation requests get 503, in-flight ones may finish until
  // `drain` has passed, then are cancelled; the listener stops and the backend shuts down.
  void Shutdown(std::chrono::milliseconds drain);

  Metrics& metrics();
  // The backend (nullptr while loading), for tests.
  Backend* backend() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ts::server
