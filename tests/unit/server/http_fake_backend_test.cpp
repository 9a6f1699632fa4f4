// The HTTP layer over real sockets with a scripted backend: routing, auth, CORS, limits,
// error shapes, SSE over the wire and disconnect handling. No model involved.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_backend.h"
#include "server/http_server.h"

namespace ts::server {
namespace {

using nlohmann::json;
using testing::FakeBackend;

class HttpFakeTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    server_ = std::make_unique<HttpServer>(o);
    port_ = server_->Start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(10, 0);
  }
  FakeBackend* Load(std::vector<std::string> script = {"Hello", " world"},
                    std::chrono::milliseconds step = std::chrono::milliseconds(1)) {
    auto backend = std::make_unique<FakeBackend>(std::move(script), step);
    FakeBackend* raw = backend.get();
    server_->SetBackend(std::move(backend));
    return raw;
  }
  httplib::Result PostJson(const std::string& path, const json& body, httplib::Headers h = {}) {
    return client_->Post(path.c_str(), h, body.dump(), "application/json");
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Shutdown(std::chrono::milliseconds(0));
  }

  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};

const json kChat = {{"model", "fake-model"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}};

void ExpectError(const httplib::Result& r, int status, const std::string& type) {
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, status);
  const json body = json::parse(r->body);
  ASSERT_TRUE(body.contains("error")) << r->body;
  EXPECT_EQ(body["error"]["type"], type) << r->body;
  EXPECT_TRUE(body["error"].contains("param"));
  EXPECT_TRUE(body["error"].contains("code"));
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
}

TEST_F(HttpFakeTest, HealthWhileLoadingThenOk) {
  StartServer();
  auto r = client_->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body)["status"], "loading");
  ExpectError(PostJson("/v1/chat/completions", kChat), 503, "service_unavailable_error");
  Load();
  r = client_->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
}

TEST_F(HttpFakeTest, ChatAndModels) {
  StartServer();
  Load();
  auto r = PostJson("/v1/chat/completions", kChat);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = json::parse(r->body);
  EXPECT_EQ(body["choices"][0]["message"]["content"], "Hello world");
  EXPECT_EQ(body["model"], "fake-model");
  EXPECT_EQ(body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");

  r = client_->Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["data"][0]["id"], "fake-model");
  r = client_->Get("/v1/models/fake-model");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ExpectError(client_->Get("/v1/models/gpt-4"), 404, "invalid_request_error");
  // A generation request naming another model is refused the same way; naming none is fine.
  json other = kChat;
  other["model"] = "gpt-4";
  auto wrong = PostJson("/v1/chat/completions", other);
  ExpectError(wrong, 404, "invalid_request_error");
  EXPECT_EQ(json::parse(wrong->body)["error"]["code"], "model_not_found");
  other.erase("model");
  auto unnamed = PostJson("/v1/chat/completions", other);
  ASSERT_TRUE(unnamed);
  EXPECT_EQ(unnamed->status, 200);
}

TEST_F(HttpFakeTest, ErrorsHaveOpenAiShape) {
  ServerOptions o;
  o.max_body_bytes = 4096;
  StartServer(o);
  Load();
  ExpectError(client_->Post("/v1/chat/completions", "{not json", "application/json"), 400,
              "invalid_request_error");
  ExpectError(PostJson("/v1/chat/completions", {{"model", "m"}}), 400, "invalid_request_error");
  json bad = kChat;
  bad["max_tokens"] = -5;
  auto r = PostJson("/v1/chat/completions", bad);
  ExpectError(r, 400, "invalid_request_error");
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "max_tokens");
  ExpectError(client_->Get("/v1/nothing-here"), 404, "invalid_request_error");
  json big = kChat;
  big["messages"][0]["content"] = std::string(10000, 'a');
  r = PostJson("/v1/chat/completions", big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // Prompt longer than the context (the fake has 64 tokens).
  json longer = kChat;
  std::string words;
  for (int i = 0; i < 100; ++i) words += " word";
  longer["messages"][0]["content"] = words;
  r = PostJson("/v1/chat/completions", longer);
  ExpectError(r, 400, "invalid_request_error");
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "context_length_exceeded");
}

// Returns a socket connected to 127.0.0.1:port, or -1.
int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends raw bytes on a new connection; returns what the server sent until it closed the
// connection, or "<open>" appended when it was still open after `wait`.
std::string RawExchange(int port, const std::string& bytes,
                        std::chrono::milliseconds wait = std::chrono::seconds(3)) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "<connect failed>";
  (void)send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      out += "<open>";
      break;
    }
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::string Chunked(const std::string& body, size_t chunk) {
  std::string out;
  for (size_t i = 0; i < body.size(); i += chunk) {
    const std::string part = body.substr(i, chunk);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    out += size + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST_F(HttpFakeTest, BodyLimitHoldsForEveryFraming) {
  ServerOptions o;
  o.max_body_bytes = 4096;
  StartServer(o);
  Load();
  const std::string head =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  json big = kChat;
  big["messages"][0]["content"] = std::string(20000, 'a');
  // A declared length over the limit: 413 at once (no waiting for a body that never comes),
  // and the connection ends, so the bytes after the headers are not read as a next request.
  std::string r =
      RawExchange(port_, head + "Content-Length: 99999999999\r\n\r\nGET /health HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  EXPECT_EQ(r.find("HTTP/1.1", 1), std::string::npos) << r;
  EXPECT_EQ(r.find("<open>"), std::string::npos) << r;
  // A chunked body is counted as it arrives.
  r = RawExchange(port_, head + "Transfer-Encoding: chunked\r\n\r\n" + Chunked(big.dump(), 1000));
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  EXPECT_EQ(r.find("<open>"), std::string::npos) << r;
  // ... and a small chunked body works.
  r = RawExchange(port_, head + "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             Chunked(kChat.dump(), 7));
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  // No Content-Length and no chunking: an empty body (RFC 9112), answered at once.
  r = RawExchange(port_, head + "Connection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  r = RawExchange(port_, head + "Content-Length: -5\r\n\r\n{}");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length"), std::string::npos) << r;
  // Any other path with a body: 404 without reading it.
  r = RawExchange(port_,
                  "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      Chunked(big.dump(), 1000));
  EXPECT_EQ(r.rfind("HTTP/1.1 404", 0), 0u) << r;
  EXPECT_EQ(r.find("HTTP/1.1", 1), std::string::npos) << r;
  // A gzip body is limited by its decoded size: 20 KB of 'a' compresses far below 4 KB.
  client_->set_compress(true);
  auto res = PostJson("/v1/chat/completions", big);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  res = PostJson("/v1/chat/completions", kChat);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(HttpFakeTest, ApiKey) {
  ServerOptions o;
  o.api_key = "sekret";
  StartServer(o);
  Load();
  auto r = PostJson("/v1/chat/completions", kChat);
  ExpectError(r, 401, "invalid_request_error");
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_api_key");
  ExpectError(PostJson("/v1/chat/completions", kChat, {{"Authorization", "Bearer wrong"}}), 401,
              "invalid_request_error");
  r = PostJson("/v1/chat/completions", kChat, {{"Authorization", "Bearer sekret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = PostJson("/v1/chat/completions", kChat,
               {{"Authorization", "bearer sekret"}});  // scheme is case-insensitive
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client_->Get("/health");  // open
  EXPECT_EQ(r->status, 200);
  r = client_->Get("/metrics");  // open
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpFakeTest, CorsPreflight) {
  StartServer();
  auto r = client_->Options("/v1/chat/completions",
                            {{"Origin", "http://x"},
                             {"Access-Control-Request-Method", "POST"},
                             {"Access-Control-Request-Headers", "authorization, x-stainless-os"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Headers"), "authorization, x-stainless-os");
}

TEST_F(HttpFakeTest, StreamOverTheWire) {
  StartServer();
  Load();
  json req = kChat;
  req["stream"] = true;
  auto r = client_->Post("/v1/chat/completions", {}, req.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
  EXPECT_EQ(r->get_header_value("Transfer-Encoding"), "chunked");
  EXPECT_FALSE(r->has_header("Content-Length"));
  EXPECT_EQ(r->body.rfind("data: ", 0), 0u);
  EXPECT_NE(r->body.find("\"content\":\"Hello\""), std::string::npos);
  const std::string done = "data: [DONE]\n\n";
  ASSERT_GE(r->body.size(), done.size());
  EXPECT_EQ(r->body.substr(r->body.size() - done.size()), done);
}

TEST_F(HttpFakeTest, ClientDisconnectCancelsStream) {
  StartServer();
  FakeBackend* backend = Load(std::vector<std::string>(2000, "x"), std::chrono::milliseconds(5));
  json req = kChat;
  req["stream"] = true;
  int received = 0;
  httplib::Client c("127.0.0.1", port_);
  httplib::Request hreq;
  hreq.method = "POST";
  hreq.path = "/v1/chat/completions";
  hreq.body = req.dump();
  hreq.set_header("Content-Type", "application/json");
  hreq.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    return ++received < 5;  // abort after 5 pieces
  };
  auto r = c.send(hreq);
  EXPECT_FALSE(r);
  for (int i = 0; i < 200 && backend->cancelled_seen.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(backend->cancelled_seen.load(), 1);
}

TEST_F(HttpFakeTest, ClientDisconnectCancelsNonStreaming) {
  StartServer();
  FakeBackend* backend = Load(std::vector<std::string>(2000, "x"), std::chrono::milliseconds(5));
  {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(0, 200000);  // give up after 200 ms: the socket closes
    auto r = c.Post("/v1/chat/completions", {}, kChat.dump(), "application/json");
    EXPECT_FALSE(r);
  }
  for (int i = 0; i < 200 && backend->cancelled_seen.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(backend->cancelled_seen.load(), 1);
}

TEST_F(HttpFakeTest, QueueFullIs503WithRetryAfter) {
  StartServer();
  Load()->refuse_queue_full = true;
  auto r = PostJson("/v1/chat/completions", kChat);
  ExpectError(r, 503, "service_unavailable_error");
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
}

// Opens a connection that sends the start of a request and then nothing; returns its socket.
int HalfSentRequest(int port) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return -1;
  const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n";
  (void)send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  return fd;
}

// Connections that send half a request and wait hold a worker each; the server must still
// answer others (a liveness probe) without waiting for their read timeout (30 s).
TEST_F(HttpFakeTest, SlowClientsDoNotHoldUpOthers) {
  ServerOptions o;
  o.http_threads = 2;
  StartServer(o);
  Load();
  std::vector<int> slow;
  for (int i = 0; i < 12; ++i) {
    slow.push_back(HalfSentRequest(port_));
    ASSERT_GE(slow.back(), 0);
  }
  client_->set_read_timeout(5, 0);
  client_->set_connection_timeout(5, 0);
  auto health = client_->Get("/health");
  ASSERT_TRUE(health) << "no answer while 12 half-sent requests hold workers";
  EXPECT_EQ(health->status, 200);
  auto chat = PostJson("/v1/chat/completions", kChat);
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 200);
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  const size_t at = metrics->body.find("\nternserve_http_workers ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoi(metrics->body.substr(at + 24)), 13);  // 12 held + the one serving us
  for (int fd : slow) close(fd);
}

// Shutdown must not wait for idle keep-alive connections or half-sent requests to time out
// (5 s keep-alive, 30 s read timeout): Kubernetes kills a pod 30 s after SIGTERM.
TEST_F(HttpFakeTest, ShutdownClosesIdleConnections) {
  StartServer();
  Load();
  ASSERT_TRUE(client_->Get("/health"));  // leaves a keep-alive connection open
  const int slow = HalfSentRequest(port_);
  ASSERT_GE(slow, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let a worker take it
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::milliseconds(0));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  char byte = 0;
  EXPECT_EQ(recv(slow, &byte, 1, 0), 0);  // the server hung up
  close(slow);
}

TEST_F(HttpFakeTest, MetricsCountRequests) {
  StartServer();
  Load();
  auto first = PostJson("/v1/chat/completions", kChat);
  ASSERT_TRUE(first) << httplib::to_string(first.error());
  ASSERT_EQ(first->status, 200) << first->body;
  PostJson("/v1/chat/completions", {{"model", "m"}});
  // A request is counted as its response finishes, which can be just after the client has it
  // (and each request has its own connection: the two can finish in either order).
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto probe = client_->Get("/metrics");
    if (probe && probe->body.find("status=\"400\"} 1") != std::string::npos &&
        probe->body.find("completions\",status=\"200\"} 1") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto r = client_->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("ternserve_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 1"),
            std::string::npos) << r->body;
  EXPECT_NE(r->body.find("ternserve_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"} 1"),
            std::string::npos);
  EXPECT_NE(r->body.find("ternserve_kv_blocks_used 0"), std::string::npos);
}

TEST_F(HttpFakeTest, ShutdownDrainsInFlight) {
  StartServer();
  FakeBackend* backend = Load(std::vector<std::string>(20, "y"), std::chrono::milliseconds(10));
  std::thread t([&] {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Post("/v1/chat/completions", {}, kChat.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body)["choices"][0]["message"]["content"], std::string(20, 'y'));
  });
  // Shut down once the request is running (a request still unsent at that point would get its
  // connection closed, as a half-sent one does).
  for (int i = 0; i < 500 && backend->SubmittedCount() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(backend->SubmittedCount(), 1u);
  server_->Shutdown(std::chrono::seconds(5));
  t.join();
}

// A response still being written when shutdown closes idle connections goes out whole: the
// client below reads a 16 MB answer only after Shutdown has begun (the generation itself is
// long finished, so only the socket write is left).
TEST_F(HttpFakeTest, ShutdownLetsAResponseBeingWrittenFinish) {
  StartServer();
  Load(std::vector<std::string>(20, std::string(800000, 'z')), std::chrono::milliseconds(0));
  const int fd = ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  const std::string body = kChat.dump();
  const std::string request =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // generated; the write is stuck
  std::thread stopper([&] { server_->Shutdown(std::chrono::seconds(5)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // Shutdown is under way
  std::string response;
  char buf[65536];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
    response.append(buf, static_cast<size_t>(n));
  close(fd);
  stopper.join();
  const size_t header_end = response.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos)
      << response.size() << " bytes: " << response.substr(0, 200);
  std::string payload = response.substr(header_end + 4);
  if (response.substr(0, header_end).find("Transfer-Encoding: chunked") != std::string::npos) {
    std::string joined;  // chunks: hex size CRLF data CRLF ... 0 CRLF CRLF
    for (size_t at = 0;;) {
      const size_t line_end = payload.find("\r\n", at);
      ASSERT_NE(line_end, std::string::npos) << "truncated chunked body";
      const size_t size = std::stoul(payload.substr(at, line_end - at), nullptr, 16);
      if (size == 0) break;
      ASSERT_LE(line_end + 2 + size, payload.size()) << "truncated chunk";
      joined += payload.substr(line_end + 2, size);
      at = line_end + 2 + size + 2;
    }
    payload = joined;
  }
  const json answer = json::parse(payload, nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << "truncated at " << response.size() << " bytes";
  EXPECT_EQ(answer["choices"][0]["message"]["content"].get<std::string>().size(), 16000000u);
}

}  // namespace
}  // namespace ts::server
