// SPDX-License-Identifier: Apache-2.0
// Loopback peers for relay tests: a UDP socket that records (or echoes) what reaches it, and a
// TCP listener that notices connections made to it.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <vector>

#include "support/stun_client.hpp"

namespace turnpike::test {

// A loopback UDP socket that must (or must not) receive relayed data.
class udp_sink {
 public:
  explicit udp_sink(const char* ip = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t len = 0;
    auto ss = to_sockaddr(*protocol::transport_address::parse_ip(ip, 0), len);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len);
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
    address_ = from_sockaddr(bound);
  }
  ~udp_sink() { ::close(fd_); }
  udp_sink(const udp_sink&) = delete;
  udp_sink& operator=(const udp_sink&) = delete;
  int fd() const noexcept { return fd_; }
  const protocol::transport_address& address() const noexcept { return address_; }
  std::uint16_t port() const noexcept { return address_.port; }
  // Sends the next datagram (waiting up to `timeout_ms`) back to where it came from: a peer
  // that echoes. False when none came.
  bool echo_one(int timeout_ms) const {
    pollfd pf{fd_, POLLIN, 0};
    if (::poll(&pf, 1, timeout_ms) <= 0) return false;
    std::uint8_t buf[65536];
    sockaddr_storage from{};
    socklen_t flen = sizeof from;
    const ssize_t n =
        ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
    return n > 0 && ::sendto(fd_, buf, static_cast<std::size_t>(n), 0,
                             reinterpret_cast<sockaddr*>(&from), flen) == n;
  }
  // The next datagram, or nullopt when none comes within `wait`.
  std::optional<bytes> next(
      std::chrono::milliseconds wait = std::chrono::milliseconds(1000)) const {
    pollfd pf{fd_, POLLIN, 0};
    if (::poll(&pf, 1, static_cast<int>(wait.count())) <= 0) return std::nullopt;
    bytes b(65536);
    const ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
    if (n < 0) return std::nullopt;
    b.resize(static_cast<std::size_t>(n));
    return b;
  }
  // Everything that arrives within `wait`.
  std::vector<bytes> received(
      std::chrono::milliseconds wait = std::chrono::milliseconds(300)) const {
    std::vector<bytes> out;
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd pf{fd_, POLLIN, 0};
      if (::poll(&pf, 1, static_cast<int>(left.count())) <= 0) break;
      bytes b(65536);
      const ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
      if (n < 0) break;
      b.resize(static_cast<std::size_t>(n));
      out.push_back(std::move(b));
    }
    return out;
  }

 private:
  int fd_ = -1;
  protocol::transport_address address_;
};

// A loopback TCP listener that counts connections made to it.
class tcp_sink {
 public:
  tcp_sink() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = 0;
    auto ss = to_sockaddr(*protocol::transport_address::parse_ip("127.0.0.1", 0), len);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len);
    ::listen(fd_, 16);
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
    port_ = from_sockaddr(bound).port;
  }
  ~tcp_sink() { ::close(fd_); }
  tcp_sink(const tcp_sink&) = delete;
  tcp_sink& operator=(const tcp_sink&) = delete;
  std::uint16_t port() const noexcept { return port_; }
  bool connected_within(std::chrono::milliseconds wait) const {
    pollfd pf{fd_, POLLIN, 0};
    return ::poll(&pf, 1, static_cast<int>(wait.count())) > 0;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace turnpike::test
