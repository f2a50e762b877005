// SPDX-License-Identifier: Apache-2.0
// A small blocking STUN client over UDP or TCP for tests, built on the project's codec.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>

#include "protocol/attr_address.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/framer.hpp"
#include "protocol/integrity.hpp"
#include "protocol/long_term_key.hpp"
#include "protocol/message.hpp"
#include "support/hex.hpp"

namespace turnpike::test {

inline sockaddr_storage to_sockaddr(const protocol::transport_address& a, socklen_t& len) {
  sockaddr_storage ss{};
  if (a.family == protocol::address_family::ipv4) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(a.port);
    std::memcpy(&s->sin_addr, a.ip.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(a.port);
    std::memcpy(&s->sin6_addr, a.ip.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

inline protocol::transport_address from_sockaddr(const sockaddr_storage& ss) {
  protocol::transport_address a;
  if (ss.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    a.family = protocol::address_family::ipv4;
    std::memcpy(a.ip.data(), &s->sin_addr, 4);
    a.port = ntohs(s->sin_port);
  } else {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&ss);
    a.family = protocol::address_family::ipv6;
    std::memcpy(a.ip.data(), &s->sin6_addr, 16);
    a.port = ntohs(s->sin6_port);
  }
  return a;
}

// A port the system just handed out on 127.0.0.1 for `type` (then closed again).
inline std::uint16_t free_port(int type = SOCK_DGRAM) {
  const int fd = socket(AF_INET, type, 0);
  socklen_t len = 0;
  auto ss = to_sockaddr(*protocol::transport_address::parse_ip("127.0.0.1", 0), len);
  bind(fd, reinterpret_cast<const sockaddr*>(&ss), len);
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  close(fd);
  return from_sockaddr(bound).port;
}

class stun_client {
 public:
  // `from`: a local address to bind first (another loopback IP, say).
  stun_client(int type, const protocol::transport_address& server,
              std::optional<protocol::transport_address> from = std::nullopt)
      : server_(server) {
    fd_ = socket(server.family == protocol::address_family::ipv4 ? AF_INET : AF_INET6, type, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    if (from) {
      socklen_t flen = 0;
      const auto fs = to_sockaddr(*from, flen);
      if (bind(fd_, reinterpret_cast<const sockaddr*>(&fs), flen) != 0) {
        throw std::runtime_error("bind " + from->to_string());
      }
    }
    socklen_t len = 0;
    const auto ss = to_sockaddr(server, len);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
      throw std::runtime_error("connect to " + server.to_string() + ": " + std::strerror(errno));
    }
    stream_ = type == SOCK_STREAM;
  }
  ~stun_client() { close(fd_); }
  stun_client(const stun_client&) = delete;
  stun_client& operator=(const stun_client&) = delete;

  // The connected socket (for a test that layers TLS on a TCP connection, say).
  int native_handle() const noexcept { return fd_; }

  protocol::transport_address local() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    return from_sockaddr(ss);
  }

  // A Binding request with a fresh transaction ID (and FINGERPRINT).
  static bytes binding_request(bool fingerprint = true) {
    static std::mt19937 rng{std::random_device{}()};
    std::array<std::uint8_t, 12> tid{};
    for (auto& b : tid) b = static_cast<std::uint8_t>(rng());
    std::array<std::uint8_t, 64> buf{};
    protocol::message_builder b(buf, protocol::method::binding, protocol::msg_class::request, tid);
    if (fingerprint) b.add_fingerprint();
    auto out = b.finish();
    return bytes(out->begin(), out->end());
  }

  void send_raw(const bytes& data) {
    if (::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(data.size())) {
      throw std::runtime_error("send failed");
    }
  }

  // Next message (datagram, or framed from the stream), or nullopt after `timeout_ms`.
  std::optional<bytes> receive(int timeout_ms = 2000) {
    if (stream_) {
      for (;;) {
        const auto f = protocol::next_frame(pending_);
        if (f.status == protocol::frame_status::complete) {
          bytes msg(pending_.begin(), pending_.begin() + f.message_size);
          pending_.erase(pending_.begin(), pending_.begin() + f.size);
          return msg;
        }
        if (f.status == protocol::frame_status::invalid) return std::nullopt;
        if (!read_some(timeout_ms)) return std::nullopt;
      }
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    bytes buf(65536);
    const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

  // Exactly `n` raw bytes from a stream (after a ConnectionBind, say: what follows the last
  // framed message), or nullopt if they do not all come within `timeout_ms` per read.
  std::optional<bytes> receive_raw(std::size_t n, int timeout_ms = 2000) {
    while (pending_.size() < n) {
      if (!read_some(timeout_ms)) return std::nullopt;
    }
    bytes out(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
  }

  // True when the peer closed a stream connection (within the timeout).
  bool closed_by_peer(int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    return recv(fd_, &c, 1, 0) <= 0;
  }

  // Sends a Binding request and returns the mapped address from the success response.
  std::optional<protocol::transport_address> binding() {
    const bytes req = binding_request();
    send_raw(req);
    for (;;) {
      auto r = receive();
      if (!r) return std::nullopt;
      auto m = protocol::message_view::parse(*r);
      if (!m || !std::equal(req.begin() + 8, req.begin() + 20, r->begin() + 8)) continue;
      if (m->cls() != protocol::msg_class::success_response || !protocol::check_fingerprint(*m)) {
        return std::nullopt;
      }
      auto x = m->find(protocol::attr::xor_mapped_address);
      if (!x) return std::nullopt;
      auto a = protocol::decode_xor_address(x->value, m->tid_bytes());
      if (!a) return std::nullopt;
      return *a;
    }
  }

  // The long-term-credential Allocate exchange (RFC 8656 section 7.2): an unauthenticated
  // Allocate, then one signed with the nonce and realm of the 401. Returns the final answer's
  // error code (0 for success, -1 for no answer).
  int allocate(const std::string& user, const std::string& password) {
    return transact(protocol::method::allocate, user, password, std::nullopt);
  }
  // After allocate(): a Refresh with the same credentials (LIFETIME 0 deletes).
  int refresh(std::uint32_t lifetime) {
    return transact(protocol::method::refresh, user_, password_, lifetime);
  }

 private:
  bool read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    std::uint8_t buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.insert(pending_.end(), buf, buf + n);
    return true;
  }

  // Sends `method` (Allocate: with REQUESTED-TRANSPORT UDP; else with LIFETIME), answering
  // a 401 or 438 once with the nonce and realm it carries.
  int transact(protocol::method method, const std::string& user, const std::string& password,
               std::optional<std::uint32_t> lifetime) {
    user_ = user;
    password_ = password;
    for (int round = 0; round < 2; ++round) {
      static std::mt19937 rng{std::random_device{}()};
      std::array<std::uint8_t, 12> tid{};
      for (auto& b : tid) b = static_cast<std::uint8_t>(rng());
      std::array<std::uint8_t, 512> buf{};
      protocol::message_builder b(buf, method, protocol::msg_class::request, tid);
      if (method == protocol::method::allocate) {
        protocol::add_requested_transport(b, protocol::transport_udp);
      }
      if (lifetime) b.add_u32(protocol::attr::lifetime, *lifetime);
      if (!nonce_.empty()) {
        b.add(protocol::attr::username, std::string_view(user));
        b.add(protocol::attr::realm, std::string_view(realm_));
        b.add(protocol::attr::nonce, std::string_view(nonce_));
        b.add_message_integrity(protocol::long_term_key_md5(user, realm_, password));
      }
      auto out = b.finish();
      send_raw(bytes(out->begin(), out->end()));
      std::optional<protocol::message_view> m;
      std::optional<bytes> r;
      while (!m) {
        r = receive(5000);
        if (!r) return -1;
        auto parsed = protocol::message_view::parse(*r);
        if (parsed && std::equal(tid.begin(), tid.end(), r->begin() + 8)) m = *parsed;
      }
      if (m->cls() == protocol::msg_class::success_response) return 0;
      const auto ec = m->find(protocol::attr::error_code);
      if (!ec) return -1;
      const int code = protocol::decode_error_code(ec->value)->code;
      const auto nonce = m->find(protocol::attr::nonce);
      const auto realm = m->find(protocol::attr::realm);
      if (round == 1 || (code != 401 && code != 438) || !nonce || !realm) return code;
      nonce_ = std::string(*protocol::decode_text(protocol::attr::nonce, nonce->value));
      realm_ = std::string(*protocol::decode_text(protocol::attr::realm, realm->value));
    }
    return -1;
  }

  std::string user_, password_, nonce_, realm_;
  protocol::transport_address server_;
  int fd_ = -1;
  bool stream_ = false;
  bytes pending_;
};

}  // namespace turnpike::test
