// SPDX-License-Identifier: Apache-2.0
#include "server/net/relays/mux_relays.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/system/system_error.hpp>
#include <cerrno>
#include <string>

#include "server/net/datagram_io.hpp"
#include "server/net/outbox.hpp"
#include "server/net/poller.hpp"

namespace turnpike::server::net {
namespace {

std::size_t family_index(protocol::address_family f) noexcept {
  return f == protocol::address_family::ipv6 ? 1 : 0;
}

}  // namespace

void mux_relays::open_sockets(const std::vector<protocol::transport_address>& ips) {
  auto fail = [](const char* what) {
    throw boost::system::system_error(errno, boost::system::system_category(),
                                      std::string("relay-mux: ") + what);
  };
  for (const auto& ip : ips) {
    const bool v6 = ip.family == protocol::address_family::ipv6;
    const std::size_t f = family_index(ip.family);
    if (in_[f] >= 0) continue;
    const int domain = v6 ? AF_INET6 : AF_INET;
    // Receive: bound to the relay IP on a port of the kernel's choosing; the program steers
    // every relayed address of this shard here, and IP(V6)_ORIGDSTADDR names which.
    in_[f] = ::socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (in_[f] < 0) fail("socket");
    const int on = 1;
    if (v6) ::setsockopt(in_[f], IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (::setsockopt(in_[f], v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVORIGDSTADDR : IP_RECVORIGDSTADDR,
                     &on, sizeof on) != 0) {
      fail("IP_RECVORIGDSTADDR");
    }
    protocol::transport_address any_port = ip;
    any_port.port = 0;
    sockaddr_storage sa{};
    const socklen_t len = to_sockaddr(any_port, sa);
    if (::bind(in_[f], reinterpret_cast<const sockaddr*>(&sa), len) != 0) fail("bind");
    tune_udp_socket(in_[f], shared_socket_buffer_bytes, 0);
    mux_.add_socket(relay_mux::slot(host_.index(), ip.family), in_[f]);
    host_.poll().watch(in_[f], {poll_key::kind::mux, static_cast<std::uint32_t>(f)});
    // Send: a raw socket writing whole IP datagrams (IPPROTO_RAW: send only, header included).
    out_[f] = ::socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
    if (out_[f] < 0) fail("raw socket (needs CAP_NET_RAW)");
    const int buffer = shared_socket_buffer_bytes;
    ::setsockopt(out_[f], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  }
}

void mux_relays::close_sockets() noexcept {
  for (auto* fds : {&in_, &out_}) {
    for (int& fd : *fds) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }
}

bool mux_relays::read(std::size_t family) noexcept {
  if (family >= in_.size()) return false;
  return read_socket_to(host_.receive_buffers(), in_[family],
                        [this](const protocol::transport_address& from,
                               const protocol::transport_address* to, protocol::byte_span bytes) {
                          const auto it = to != nullptr ? ids_.find(*to) : ids_.end();
                          if (it == ids_.end()) {
                            ++dropped_;  // closed since it was queued
                            return;
                          }
                          host_.on_peer_packet(it->second, from, bytes);
                        });
}

std::optional<engine::opened_relay> mux_relays::open(const engine::relay_request& request,
                                                     engine::relay_id id,
                                                     engine::relay_error& why) {
  std::optional<protocol::transport_address> at;
  std::optional<engine::reservation_token> reserved;
  if (request.token) {
    at = mux_.claim(*request.token, host_.index());
    if (!at) {
      why = engine::relay_error::bad_token;
      return std::nullopt;
    }
  } else {
    if (in_[family_index(request.family)] < 0) {
      why = engine::relay_error::no_such_family;
      return std::nullopt;
    }
    auto opened = mux_.open(request.family, request.even_port, request.reserve_next, host_.index());
    if (!opened) {
      why = engine::relay_error::no_port;
      return std::nullopt;
    }
    at = opened->relayed;
    reserved = opened->token;
  }
  engine::opened_relay out;
  out.id = id;
  out.local = *at;
  out.reserved = reserved;
  relays_.emplace(id, relay{*at, request.dont_fragment});
  ids_.emplace(*at, id);
  return out;
}

bool mux_relays::close(engine::relay_id id) noexcept {
  const auto it = relays_.find(id);
  if (it == relays_.end()) return false;
  mux_.close(it->second.local);
  ids_.erase(it->second.local);
  relays_.erase(it);
  return true;
}

bool mux_relays::send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                              protocol::byte_span bytes) noexcept {
  const auto it = relays_.find(id);
  if (it == relays_.end()) return false;
  // From the relayed address, through the shard's raw socket: headers written here.
  std::uint8_t header[48];
  const std::size_t n = build_udp_headers(it->second.local, peer, bytes.data(), bytes.size(),
                                          it->second.dont_fragment, header);
  const int fd = out_[family_index(it->second.local.family)];
  protocol::transport_address to = peer;
  to.port = 0;  // raw sockets take no port (IPv6 refuses any other than 0 or the protocol)
  if (n == 0 || fd < 0) {
    host_.out().count_failure();
  } else {
    host_.out().send(fd, to, bytes, protocol::byte_span(header, n));
  }
  return true;
}

}  // namespace turnpike::server::net
