// SPDX-License-Identifier: Apache-2.0
// Which peer addresses a TURN client may reach (RFC 8656 section 21.2 on abuse, and the
// lessons of public TURN SSRF reports): loopback, "this network", private, shared-address,
// link-local (including cloud metadata 169.254.169.254), multicast, reserved/broadcast,
// IPv6 unique-local are denied by default; IPv4-mapped, IPv4-compatible and NAT64 forms are
// reduced to IPv4 before any check. allowed-peer-ip wins over denied-peer-ip and over the
// defaults. The server's own addresses are special: the listening ports are never reachable,
// and a non-loopback own IP is reachable only on relay ports (so two clients of one server
// can relay to each other, but nothing else on the host can be reached).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "protocol/ip_range.hpp"
#include "protocol/types.hpp"

namespace turnpike::server::engine {

using protocol::ip_range;
using protocol::parse_ip_range;

struct peer_policy_options {
  bool allow_loopback = false;  // allow-loopback-peers (tests)
  bool allow_multicast = false;
  std::vector<ip_range> allowed;                       // allowed-peer-ip
  std::vector<ip_range> denied;                        // denied-peer-ip
  std::vector<protocol::transport_address> listening;  // ip:port of every listener
  std::vector<protocol::transport_address> own_ips;    // listening, relay and external IPs
  std::uint16_t relay_min_port = 49152;
  std::uint16_t relay_max_port = 65535;
};

class peer_policy {
 public:
  explicit peer_policy(peer_policy_options options);

  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d)
  // addresses as plain IPv4; everything else unchanged.
  static protocol::transport_address canonical(const protocol::transport_address& a) noexcept;

  // CreatePermission: the IP alone (permissions ignore ports).
  bool permits_ip(const protocol::transport_address& peer) const noexcept;
  // Send, ChannelBind: the IP and the port.
  bool permits(const protocol::transport_address& peer) const noexcept;

 private:
  bool default_denied(const protocol::transport_address& ip) const noexcept;

  peer_policy_options o_;
};

}  // namespace turnpike::server::engine
