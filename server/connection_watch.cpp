#include "server/connection_watch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace ts::server {
namespace {

int PortOf(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  }
  return -1;
}

std::string AddrOf(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, buf, sizeof buf);
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, buf, sizeof buf);
  }
  return buf;
}

// Calls fn(fd, local, peer) for each connected socket of this process until it returns true.
template <class Fn>
void ForEachConnection(Fn&& fn) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || fd < 0) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    const int sock = static_cast<int>(fd);
    if (getsockname(sock, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    if (getpeername(sock, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
    if (fn(sock, local, peer)) break;
  }
  closedir(dir);
}

}  // namespace

ConnectionWatch::ConnectionWatch(int local_port, const std::string& remote_addr, int remote_port) {
  if (local_port <= 0 || remote_port <= 0) return;
  ForEachConnection([&](int sock, const sockaddr_storage& local, const sockaddr_storage& peer) {
    if (PortOf(local) != local_port || PortOf(peer) != remote_port) return false;
    if (!remote_addr.empty() && AddrOf(peer) != remote_addr) return false;
    fd_ = sock;
    return true;
  });
}

int ShutdownIdleConnections(int local_port,
                            const std::function<bool(const std::string&, int)>& busy) {
  int n = 0;
  ForEachConnection([&](int sock, const sockaddr_storage& local, const sockaddr_storage& peer) {
    if (PortOf(local) != local_port || busy(AddrOf(peer), PortOf(peer))) return false;
    if (::shutdown(sock, SHUT_RDWR) == 0) ++n;
    return false;
  });
  return n;
}

bool ConnectionWatch::PeerClosed() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, static_cast<short>(POLLRDHUP), 0};
  if (poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

void ConnectionWatch::Close() const {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace ts::server
