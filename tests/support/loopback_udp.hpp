// SPDX-License-Identifier: Apache-2.0
// A non-blocking UDP socket on 127.0.0.1 (a free port unless given) for tests of the network
// layer's rooms: send to it, read what arrived.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "server/net/datagram_io.hpp"

namespace turnpike::test {

struct loopback_udp {
  int fd = -1;
  protocol::transport_address address;
  explicit loopback_udp(std::uint16_t port = 0) {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_storage sa;
    const socklen_t len =
        server::net::to_sockaddr(*protocol::transport_address::parse_ip("127.0.0.1", port), sa);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) ::close(std::exchange(fd, -1));
    socklen_t got = sizeof sa;
    if (fd >= 0) ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &got);
    address = server::net::from_sockaddr(sa);
  }
  ~loopback_udp() {
    if (fd >= 0) ::close(fd);
  }
  loopback_udp(const loopback_udp&) = delete;
  loopback_udp& operator=(const loopback_udp&) = delete;

  bool send_to(const protocol::transport_address& to, const std::string& text) const {
    sockaddr_storage sa;
    const socklen_t len = server::net::to_sockaddr(to, sa);
    return ::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&sa), len) ==
           static_cast<ssize_t>(text.size());
  }
  // Every datagram queued now, with its sender (waits up to `wait_ms` for the first).
  std::vector<std::pair<protocol::transport_address, std::string>> read_from(
      int wait_ms = 1000) const {
    std::vector<std::pair<protocol::transport_address, std::string>> out;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, wait_ms);
    char buf[65536];
    for (;;) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      const ssize_t n =
          ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) break;
      out.emplace_back(server::net::from_sockaddr(from),
                       std::string(buf, static_cast<std::size_t>(n)));
    }
    return out;
  }
  std::vector<std::string> read_all(int wait_ms = 1000) const {
    std::vector<std::string> out;
    for (auto& [from, text] : read_from(wait_ms)) out.push_back(std::move(text));
    return out;
  }
};

}  // namespace turnpike::test
