// Notices a client that hung up while its request is still being generated.
//
// cpp-httplib 0.11 gives handlers no socket and no "connection closed" query, and a
// write is the only other way to find out. So, on Linux, the watch finds the
// connection's descriptor once (the socket in /proc/self/fd whose local and peer ports
// match the request's) and then polls it for POLLRDHUP / POLLHUP. Limitation: a client
// that half-closes its sending side but still reads (rare for HTTP/1.1) looks gone.
#pragma once

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

// Shuts down the reading side of every connection accepted on local_port: workers waiting
// for a request on one read EOF and close it at once, while a response still being written
// (the end of a drained stream) goes out whole. For shutdown, after the listener has closed:
// idle keep-alive connections and half-sent requests would otherwise hold it for their read
// timeouts. Returns how many it shut down.
int ShutdownConnections(int local_port);

}  // namespace ts::server
