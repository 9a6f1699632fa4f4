// ternserve: parse options, listen, load the model (health says "loading" meanwhile),
// serve until SIGTERM/SIGINT, then drain and exit 0.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "engine/engine.h"
#include "server/backend.h"
#include "server/cli/commands.h"
#include "server/http_server.h"
#include "server/options.h"

int main(int argc, char** argv) {
  using namespace ts::server;
  ServerOptions options;
  try {
    options = ResolveOptions(std::vector<std::string>(argv + 1, argv + argc),
                             [](const std::string& name) { return std::getenv(name.c_str()); });
  } catch (const OptionsExit& e) {
    std::cout << e.what();
    return 0;
  } catch (const OptionsError& e) {
    std::cerr << "ternserve: " << e.what() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  if (options.model.empty()) options.model = ts::cli::DefaultModelPath();

  // Signals are taken by sigwait on this thread only: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that vanished mid-write is handled, not fatal

  HttpServer server(options);
  try {
    const int port = server.Start();
    spdlog::info("listening on http://{}:{} (loading {})", options.host, port, options.model);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }

  // Load on a helper thread: the listener answers /health (503 loading) meanwhile.
  std::atomic<bool> loading{true};
  std::thread loader([&] {
    try {
      auto engine = std::make_unique<ts::Engine>(ToEngineOptions(options));
      server.SetBackend(MakeEngineBackend(std::move(engine), ModelId(options)));
      spdlog::info("model '{}' ready", ModelId(options));
      loading.store(false);
    } catch (const std::exception& e) {
      spdlog::error("cannot load model '{}': {}", options.model, e.what());
      server.SetLoadError(e.what());
      loading.store(false);
      kill(getpid(), SIGTERM);  // nothing to serve: exit through the normal path
    }
  });

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  if (loading.load()) {
    // No request can be running yet, so there is nothing to drain; and a load can take long
    // (or hang on a stalled disk): leave without waiting for it.
    spdlog::info("signal {} while loading: exiting", signal_number);
    spdlog::default_logger()->flush();
    std::_Exit(0);
  }
  spdlog::info("signal {}: shutting down (drain up to {} s)", signal_number, options.shutdown_timeout_s);
  loader.join();
  const bool load_failed = server.backend() == nullptr;
  server.Shutdown(std::chrono::seconds(options.shutdown_timeout_s));
  spdlog::info("stopped");
  return load_failed ? 1 : 0;
}
