// Notices a client that hung up while its request is still being generated.
//
// cpp-httplib 0.11 gives handlers no socket and no "connection closed" query, and a
// write is the only other way to find out. So, on Linux, the watch finds the
// connection's descriptor once (the socket in /proc/self/fd whose local and peer ports
// match the request's) and then polls it for POLLRDHUP / POLLHUP. Limitation: a client
// that half-closes its sending side but still reads (rare for HTTP/1.1) looks gone.
#pragma once

#include <functional>
#include <string>

namespace ts::server {

class ConnectionWatch {
 public:
  // Finds the connection; when it cannot (other OS, unexpected address), PeerClosed()
  // always answers false and disconnects surface only on the next write.
  ConnectionWatch(int local_port, const std::string& remote_addr, int remote_port);
  // True once the peer has closed or reset the connection. Cheap: one poll(2).
  bool PeerClosed() const;
  bool found() const { return fd_ >= 0; }
  // Ends the connection once the current response is written (call it from httplib's logger,
  // which runs after the write): httplib 0.11 ignores a handler's "Connection: close", and
  // bytes of an unread body must not be parsed as a next request.
  void Close() const;

 private:
  int fd_ = -1;
};

// Shuts down every connection accepted on local_port whose peer (address, port) is not
// `busy` (busy: a request read and its response not yet written). For shutdown, after the
// listener has closed: workers waiting on idle keep-alive connections and half-sent requests
// read EOF at once instead of holding the exit for their read timeouts. Returns how many.
int ShutdownIdleConnections(int local_port,
                            const std::function<bool(const std::string&, int)>& busy);

}  // namespace ts::server
