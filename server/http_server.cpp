#include "server/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include "engine/tokenizer/chat_template.h"
#include "server/api_error.h"
#include "server/connection_watch.h"
#include "server/generation.h"
#include "server/http_workers.h"
#include "server/prompt.h"
#include "server/request.h"
#include "server/request_body.h"
#include "server/response.h"
#include "server/tokenize.h"

namespace ts::server {
namespace {

using nlohmann::json;

constexpr const char* kFingerprint = "ternserve-0.1.0";
constexpr int kRequestReadTimeoutS = 30;
// HTTP workers beyond http_threads start when every worker is busy (slow or idle keep-alive
// connections hold one each) and leave after this long without work.
constexpr size_t kHttpThreadCap = 1024;
constexpr std::chrono::milliseconds kHttpIdleExit{30000};

void WriteJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(DumpJson(body), "application/json");
}

void WriteError(httplib::Response& res, const ApiError& error) {
  if (error.retry_after_s > 0) res.set_header("Retry-After", std::to_string(error.retry_after_s));
  WriteJson(res, error.status, ErrorBody(error));
}

// Label for the requests_total metric: the route, never the raw path (unbounded).
std::string EndpointLabel(const std::string& path) {
  for (const char* known : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health",
                            "/metrics", "/chat/completions", "/completions", "/models"}) {
    if (path == known) return known;
  }
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace

struct HttpServer::Impl {
  ServerOptions options;
  httplib::Server http;
  std::thread listener;
  int bound_port = 0;
  Metrics metrics;
  std::atomic<HttpWorkers*> workers{nullptr};  // owned by httplib while it listens
  std::mutex busy_mutex;
  std::set<std::pair<std::string, int>> busy;  // peers (address, port) with a request under way
  InFlightRegistry in_flight;
  RequestLimits limits;

  std::mutex backend_mutex;            // guards the two fields below while set
  std::unique_ptr<Backend> backend_owner;
  std::atomic<Backend*> backend{nullptr};
  tokenizer::ChatFamily chat_family = tokenizer::ChatFamily::kChatml;
  std::string load_error;              // written once, before load_failed is set
  std::atomic<bool> load_failed{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  std::atomic<bool> listener_done{false};

  bool IsBusy(const std::string& addr, int port) {
    std::lock_guard lock(busy_mutex);
    return busy.count({addr, port}) != 0;
  }

  explicit Impl(ServerOptions o) : options(std::move(o)) {
    limits.max_n = options.max_n;
    SetUpServer();
    SetUpRoutes();
  }

  void SetUpServer() {
    const size_t threads = options.http_threads > 0
                               ? static_cast<size_t>(options.http_threads)
                               : std::clamp<size_t>(static_cast<size_t>(options.parallel + options.max_queue + 4), 8, 512);
    http.new_task_queue = [this, threads] {
      auto* pool = new HttpWorkers(threads, std::max(threads, kHttpThreadCap), kHttpIdleExit);
      workers.store(pool);
      return pool;
    };
    http.set_payload_max_length(options.max_body_bytes);
    // Reading a request gets at most 30 s per wait: each connection holds a worker thread, so
    // clients that send half a request must not hold them for the long write timeout.
    http.set_read_timeout(std::min(options.timeout_s, kRequestReadTimeoutS), 0);
    http.set_write_timeout(options.timeout_s, 0);
    http.set_keep_alive_max_count(1000);
    http.set_tcp_nodelay(true);  // SSE events are small; do not let Nagle hold them back
    if (!options.cors_origin.empty()) {
      http.set_default_headers({{"Access-Control-Allow-Origin", options.cors_origin}});
    }
    // Statuses httplib sets itself (404 no route, 413 body too large, 400 bad request)
    // arrive here with an empty body: give them OpenAI's error shape.
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      std::string message;
      switch (res.status) {
        case 404: message = "Invalid URL (" + req.method + " " + req.path + ")"; break;
        case 413: message = "the request body is too large"; break;
        case 400: message = "malformed HTTP request"; break;
        default: message = "HTTP error " + std::to_string(res.status); break;
      }
      WriteError(res, ApiError(res.status, message, {}, {}, res.status < 500 ? "invalid_request_error" : ""));
      // httplib's own 400/413/414 mean the request's framing is broken: nothing after it on
      // this connection can be trusted.
      if (res.status == 400 || res.status == 413 || res.status == 414)
        res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          WriteError(res, ToApiError(ep));
        });
    // A connection is busy from a request's routing until its response is written (the
    // logger runs then); shutdown closes only the others.
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard lock(busy_mutex);
      busy.insert({req.remote_addr, req.remote_port});
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      {
        std::lock_guard lock(busy_mutex);
        busy.erase({req.remote_addr, req.remote_port});
      }
      // Our handlers ask for "Connection: close" when they left a body unread; while shutting
      // down no connection waits for another request.
      if (res.get_header_value("Connection") == "close" || draining.load()) {
        ConnectionWatch(req.local_port, req.remote_addr, req.remote_port).Close();
      }
      metrics.CountRequest(EndpointLabel(req.path), res.status);
      spdlog::debug("{} {} {} -> {}", req.remote_addr, req.method, req.path, res.status);
    });
  }

  using Handler = std::function<void(Impl&, const httplib::Request&, httplib::Response&)>;
  using BodyHandler = std::function<void(Impl&, const httplib::Request&, const std::string& body,
                                         httplib::Response&)>;

  // Every GET API route goes through here: auth, model readiness, one place for errors.
  httplib::Server::Handler Route(Handler fn) {
    return [this, fn](const httplib::Request& req, httplib::Response& res) {
      try {
        CheckAuth(req);
        CheckModelReady();
        fn(*this, req, res);
      } catch (...) {
        WriteError(res, ToApiError(std::current_exception()));
      }
    };
  }

  // The POST API routes: the same checks before a byte of the body is read, then the body
  // within --max-body-bytes (request_body.h).
  httplib::Server::HandlerWithContentReader PostRoute(BodyHandler fn) {
    return [this, fn](const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader) {
      bool body_read = false;
      try {
        CheckAuth(req);
        CheckModelReady();
        const std::string body = ReadRequestBody(req, reader, options.max_body_bytes);
        body_read = true;
        fn(*this, req, body, res);
      } catch (...) {
        WriteError(res, ToApiError(std::current_exception()));
        // The rest of an unread body would be parsed as the next request: end the connection.
        if (!body_read) res.set_header("Connection", "close");
      }
    };
  }

  void CheckModelReady() const {
    if (backend.load()) return;
    ApiError e(503, load_failed.load() ? "the model failed to load" : "the model is still loading",
               {}, "model_loading");
    e.retry_after_s = 5;
    throw e;
  }

  void CheckAuth(const httplib::Request& req) const {
    if (options.api_key.empty()) return;
    const std::string header = req.get_header_value("Authorization");
    // The scheme name is case-insensitive (RFC 9110): "bearer" works too.
    const std::string_view scheme = "bearer ";
    const bool bearer =
        header.size() > scheme.size() &&
        std::equal(scheme.begin(), scheme.end(), header.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
    if (bearer && ConstantTimeEquals(header.substr(scheme.size()), options.api_key)) return;
    throw ApiError(401,
                   header.empty() ? "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
                                  : "Incorrect API key provided.",
                   {}, "invalid_api_key", "invalid_request_error");
  }

  void SetUpRoutes() {
    for (const char* prefix : {"/v1", ""}) {
      const std::string p = prefix;
      http.Post(p + "/chat/completions", PostRoute(&Impl::ChatCompletions));
      http.Post(p + "/completions", PostRoute(&Impl::Completions));
      http.Get(p + "/models", Route(&Impl::ListModels));
      http.Get(p + "/models/(.+)", Route(&Impl::GetModel));
      http.Post(p + "/tokenize", PostRoute(&Impl::Tokenize));
      http.Post(p + "/detokenize", PostRoute(&Impl::Detokenize));
    }
    // Any other path with a body: 404 without reading it (httplib would otherwise read it
    // whole, unbounded when chunked, before answering 404).
    const auto no_route = [](const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader&) {
      WriteError(res, ApiError(404, "Invalid URL (" + req.method + " " + req.path + ")", {}, {},
                               "invalid_request_error"));
      res.set_header("Connection", "close");
    };
    http.Post(".*", no_route);
    http.Put(".*", no_route);
    http.Patch(".*", no_route);
    http.Delete(".*", no_route);
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) { Health(res); });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::optional<EngineStats> stats;
      if (Backend* b = backend.load()) stats = b->Stats();
      // This handler runs on one of the pool's threads: the pool is alive.
      if (HttpWorkers* pool = workers.load()) metrics.SetHttpWorkers(pool->threads());
      res.set_content(metrics.Render(stats), "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Options(".*", [this](const httplib::Request& req, httplib::Response& res) {
      res.status = 204;
      if (options.cors_origin.empty()) return;
      const std::string asked = req.get_header_value("Access-Control-Request-Headers");
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.set_header("Access-Control-Allow-Headers",
                     asked.empty() ? "Authorization, Content-Type" : asked);
      res.set_header("Access-Control-Max-Age", "86400");
    });
  }

  void Health(httplib::Response& res) {
    if (load_failed.load()) {
      WriteJson(res, 500, {{"status", "error"}, {"error", load_error}});
    } else if (draining.load()) {
      WriteJson(res, 503, {{"status", "shutting_down"}});
    } else if (!backend.load()) {
      res.set_header("Retry-After", "5");
      WriteJson(res, 503, {{"status", "loading"}});
    } else {
      WriteJson(res, 200, {{"status", "ok"}});
    }
  }

  Backend& LiveBackend() {
    if (draining.load()) {
      ApiError e(503, "the server is shutting down", {}, "shutting_down");
      e.retry_after_s = 5;
      throw e;
    }
    return *backend.load();
  }

  ResponseMeta Meta(const char* prefix) {
    return {NewResponseId(prefix), static_cast<int64_t>(std::time(nullptr)),
            backend.load()->Info().id, kFingerprint};
  }

  void ListModels(const httplib::Request&, httplib::Response& res) {
    const ModelInfo& info = backend.load()->Info();
    WriteJson(res, 200, ModelList({ModelObject(info.id, info.created, "ternserve")}));
  }

  void GetModel(const httplib::Request& req, httplib::Response& res) {
    const ModelInfo& info = backend.load()->Info();
    const std::string id = req.matches[1];
    CheckModelId(id);
    WriteJson(res, 200, ModelObject(info.id, info.created, "ternserve"));
  }

  // A request naming another model gets 404 like OpenAI and vLLM (no "model" at all is fine).
  void CheckModelId(const std::string& id) const {
    const std::string& served = backend.load()->Info().id;
    if (id.empty() || id == served) return;
    throw ApiError(404,
                   "The model '" + id + "' does not exist: this server serves '" + served +
                       "' (--model-alias serves it under another name)",
                   "model", "model_not_found", "invalid_request_error");
  }

  // Token counting, as llama-server and vLLM offer it (tokenize.h).
  void Tokenize(const httplib::Request&, const std::string& body, httplib::Response& res) {
    Backend& b = LiveBackend();
    const nlohmann::ordered_json request = ParseJsonBody(body);
    CheckModelId(ModelField(request));
    WriteJson(res, 200, TokenizeResponse(request, b.Tokenizer(), chat_family, b.Info().ctx_size));
  }

  void Detokenize(const httplib::Request&, const std::string& body, httplib::Response& res) {
    Backend& b = LiveBackend();
    const nlohmann::ordered_json request = ParseJsonBody(body);
    CheckModelId(ModelField(request));
    WriteJson(res, 200, DetokenizeResponse(request, b.Tokenizer()));
  }

  static std::string ModelField(const nlohmann::ordered_json& request) {
    const auto model = request.find("model");
    if (model == request.end() || model->is_null()) return "";
    if (!model->is_string()) throw BadRequest("'model' must be a string", "model");
    return model->get<std::string>();
  }

  void ChatCompletions(const httplib::Request& req, const std::string& body,
                       httplib::Response& res) {
    const auto arrival = std::chrono::steady_clock::now();
    Backend& b = LiveBackend();
    const tokenizer::Tokenizer& tok = b.Tokenizer();
    ChatRequest chat = ParseChatRequest(ParseJsonBody(body), tok.n_vocab(), limits);
    CheckModelId(chat.params.model);
    GenerationInput input;
    input.endpoint = Endpoint::kChat;
    const bool forced = chat.tools.active() && chat.tools.forced_schema;
    input.prompts.push_back(
        ChatPromptIds(tok, chat_family, chat.messages, forced ? ForcedCallPrefix(chat.tools) : ""));
    if (chat.tools.active())
      input.tools = std::make_shared<const ToolsRequest>(std::move(chat.tools));
    CheckPromptFits(input.prompts[0].size(), chat.params.max_tokens, b.Info().ctx_size, "messages");
    input.meta = Meta("chatcmpl");
    input.params = std::move(chat.params);
    Run(b, req, res, std::move(input), arrival);
  }

  void Completions(const httplib::Request& req, const std::string& body, httplib::Response& res) {
    const auto arrival = std::chrono::steady_clock::now();
    Backend& b = LiveBackend();
    const tokenizer::Tokenizer& tok = b.Tokenizer();
    CompletionRequest cr = ParseCompletionRequest(ParseJsonBody(body), tok.n_vocab(), limits);
    CheckModelId(cr.params.model);
    GenerationInput input;
    input.endpoint = Endpoint::kCompletion;
    std::vector<std::string> echo;
    input.prompts = CompletionPromptIds(tok, cr.prompts, &echo);
    if (cr.echo) input.echo = std::move(echo);
    for (const auto& ids : input.prompts) {
      CheckPromptFits(ids.size(), cr.params.max_tokens, b.Info().ctx_size, "prompt");
    }
    input.meta = Meta("cmpl");
    input.params = std::move(cr.params);
    Run(b, req, res, std::move(input), arrival);
  }

  void Run(Backend& b, const httplib::Request& req, httplib::Response& res, GenerationInput input,
           std::chrono::steady_clock::time_point arrival) {
    const bool stream = input.params.stream;
    auto job = std::make_shared<GenerationJob>(b, std::move(input), &metrics, &in_flight, arrival);
    auto watch = std::make_shared<ConnectionWatch>(req.local_port, req.remote_addr, req.remote_port);
    if (!stream) {
      const auto body = job->Collect([&] { return watch->PeerClosed(); });
      if (!body) {
        res.status = 499;  // client closed the connection (nginx's code); nobody reads this
        res.set_content("", "text/plain");
        return;
      }
      WriteJson(res, 200, *body);
      return;
    }
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");  // tell proxies not to buffer the stream
    res.set_chunked_content_provider(
        "text/event-stream",
        [job, watch](size_t, httplib::DataSink& sink) {
          auto write = [&sink](const std::string& s) {
            return sink.is_writable() && sink.write(s.data(), s.size());
          };
          if (!job->Stream(write, [&] { return watch->PeerClosed(); })) return false;
          sink.done();
          return true;
        },
        [job](bool) {});  // the job (and so its unfinished engine requests) dies with the response
  }
};

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() {
  if (!impl_->stopped.load()) Shutdown(std::chrono::milliseconds(0));
}

int HttpServer::Start() {
  Impl& s = *impl_;
  if (s.options.port == 0) {
    s.bound_port = s.http.bind_to_any_port(s.options.host);
  } else {
    s.bound_port = s.http.bind_to_port(s.options.host, s.options.port) ? s.options.port : -1;
  }
  if (s.bound_port <= 0) {
    throw std::runtime_error("cannot listen on " + s.options.host + ":" +
                             std::to_string(s.options.port));
  }
  s.listener = std::thread([&s] {
    s.http.listen_after_bind();
    s.listener_done.store(true);
  });
  // httplib's stop() does nothing until the accept loop runs: wait for it, so a Shutdown that
  // follows at once (a model that fails to load in microseconds) cannot miss it and hang.
  while (!s.http.is_running() && !s.listener_done.load())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return s.bound_port;
}

int HttpServer::port() const { return impl_->bound_port; }

void HttpServer::SetBackend(std::unique_ptr<Backend> backend) {
  Impl& s = *impl_;
  const ModelInfo& info = backend->Info();
  const tokenizer::ChatFamilyChoice choice = tokenizer::SelectChatFamily(
      s.options.chat_template, info.arch_name, info.chat_template, backend->Tokenizer());
  if (choice.fallback) {
    spdlog::warn("chat template: {} -> using {}", choice.reason, tokenizer::ChatFamilyName(choice.family));
  } else {
    spdlog::info("chat template: {} ({})", tokenizer::ChatFamilyName(choice.family), choice.reason);
  }
  std::lock_guard lock(s.backend_mutex);
  s.chat_family = choice.family;
  s.backend_owner = std::move(backend);
  s.backend.store(s.backend_owner.get());
}

void HttpServer::SetLoadError(const std::string& message) {
  std::lock_guard lock(impl_->backend_mutex);
  if (impl_->load_failed.load()) return;
  impl_->load_error = message.empty() ? "model load failed" : message;
  impl_->load_failed.store(true);
}

void HttpServer::Shutdown(std::chrono::milliseconds drain) {
  Impl& s = *impl_;
  if (s.stopped.exchange(true)) return;
  s.draining.store(true);
  const auto now = std::chrono::steady_clock::now();
  if (!s.in_flight.WaitIdle(now + drain)) {
    spdlog::warn("shutdown: cancelling {} request(s) still running", s.in_flight.size());
    s.in_flight.CancelAll();
    s.in_flight.WaitIdle(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }
  s.http.stop();
  // httplib joins its workers before listen() returns; the ones still reading from idle or
  // half-sent connections would keep it (and the exit) waiting up to their read timeout.
  // Connections with a response still being written are left alone; the logger closes them
  // once it is out.
  const int n = s.bound_port <= 0 ? 0
                                  : ShutdownIdleConnections(
                                        s.bound_port, [&s](const std::string& addr, int port) {
                                          return s.IsBusy(addr, port);
                                        });
  if (n > 0) spdlog::info("shutdown: closed {} idle connection(s)", n);
  if (s.listener.joinable()) s.listener.join();
  if (Backend* b = s.backend.load()) b->Shutdown(/*cancel_in_flight=*/true);
}

Metrics& HttpServer::metrics() { return impl_->metrics; }

Backend* HttpServer::backend() const { return impl_->backend.load(); }

}  // namespace ts::server
