// SPDX-License-Identifier: Apache-2.0
#include "server/net/socket_setup.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "server/net/datagram_io.hpp"

namespace turnpike::server::net {

int bind_socket(int type, const protocol::transport_address& at, bind_options o) noexcept {
  const bool v4 = at.family == protocol::address_family::ipv4;
  const int fd = ::socket(v4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int on = 1;
  if (!v4) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (o.reuse_address) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (o.reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  sockaddr_storage sa{};
  const socklen_t len = to_sockaddr(at, sa);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  if (o.dont_fragment) {
    if (v4) {
      const int v = IP_PMTUDISC_DO;
      ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
    } else {
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof on);
    }
  }
  return fd;
}

}  // namespace turnpike::server::net
