// SPDX-License-Identifier: Apache-2.0
// Peer address policy (RFC 8656 sections 7.2 and 21.2).
#include "server/engine/peer_policy.hpp"

#include <algorithm>
#include <cstring>

namespace turnpike::server::engine {

namespace p = turnpike::protocol;

namespace {

ip_range range_of(const char* ip, unsigned len) {
  return *protocol::cidr(*p::transport_address::parse_ip(ip), len);
}

using protocol::compare_ip;

const std::vector<ip_range>& default_denied_v4() {
  static const std::vector<ip_range> r{
      range_of("0.0.0.0", 8),      range_of("10.0.0.0", 8),    range_of("100.64.0.0", 10),
      range_of("169.254.0.0", 16), range_of("172.16.0.0", 12), range_of("192.0.0.0", 24),
      range_of("192.168.0.0", 16), range_of("198.18.0.0", 15), range_of("240.0.0.0", 4)};
  return r;
}
const std::vector<ip_range>& default_denied_v6() {
  // Besides local, discard and documentation ranges, the IPv6 forms that carry an IPv4
  // address a relay could be steered through: local-use NAT64 (RFC 8215, the well-known
  // 64:ff9b::/96 is unwrapped by canonical()), 6to4 (RFC 3056, deprecated by RFC 7526) and
  // Teredo (RFC 4380). allowed-peer-ip opens any of them again.
  static const std::vector<ip_range> r{range_of("::", 128),        range_of("fe80::", 10),
                                       range_of("fc00::", 7),      range_of("100::", 64),
                                       range_of("2001:db8::", 32), range_of("64:ff9b:1::", 48),
                                       range_of("2002::", 16),     range_of("2001::", 32)};
  return r;
}

bool in_any(const std::vector<ip_range>& ranges, const p::transport_address& ip) noexcept {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const ip_range& r) { return r.contains(ip); });
}

bool is_loopback(const p::transport_address& ip) noexcept {
  if (ip.family == p::address_family::ipv4) return ip.ip[0] == 127;
  static const auto one = *p::transport_address::parse_ip("::1");
  return compare_ip(ip, one) == 0;
}

bool is_multicast(const p::transport_address& ip) noexcept {
  if (ip.family == p::address_family::ipv4) return (ip.ip[0] & 0xF0) == 0xE0;
  return ip.ip[0] == 0xFF;
}

}  // namespace

peer_policy::peer_policy(peer_policy_options options) : o_(std::move(options)) {
  for (auto& a : o_.own_ips) a = canonical(a);
  for (auto& a : o_.listening) a = canonical(a);
}

p::transport_address peer_policy::canonical(const p::transport_address& a) noexcept {
  if (a.family != p::address_family::ipv6) return a;
  static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const std::uint8_t zero[12] = {};
  static const std::uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
  const bool is_mapped = std::memcmp(a.ip.data(), mapped, 12) == 0;
  const bool is_nat64 = std::memcmp(a.ip.data(), nat64, 12) == 0;
  // IPv4-compatible ::a.b.c.d, but not :: and ::1 themselves.
  const bool is_compat =
      std::memcmp(a.ip.data(), zero, 12) == 0 && (a.ip[12] | a.ip[13] | a.ip[14]) != 0;
  if (!is_mapped && !is_nat64 && !is_compat) return a;
  p::transport_address v4;
  v4.family = p::address_family::ipv4;
  std::memcpy(v4.ip.data(), a.ip.data() + 12, 4);
  v4.port = a.port;
  return v4;
}

bool peer_policy::default_denied(const p::transport_address& ip) const noexcept {
  if (is_loopback(ip)) return !o_.allow_loopback;
  if (is_multicast(ip)) return !o_.allow_multicast;
  return in_any(ip.family == p::address_family::ipv4 ? default_denied_v4() : default_denied_v6(),
                ip);
}

bool peer_policy::permits_ip(const p::transport_address& peer) const noexcept {
  const auto ip = canonical(peer);
  if (in_any(o_.allowed, ip)) return true;
  if (in_any(o_.denied, ip)) return false;
  return !default_denied(ip);
}

bool peer_policy::permits(const p::transport_address& peer) const noexcept {
  const auto a = canonical(peer);
  // Never a listener of ours: that would loop the server into itself.
  for (const auto& l : o_.listening) {
    if (l.family == a.family && compare_ip(l, a) == 0 && l.port == a.port) return false;
  }
  if (!permits_ip(a)) return false;
  // One of our own (non-loopback) IPs: only its relay ports.
  if (!is_loopback(a)) {
    for (const auto& own : o_.own_ips) {
      if (own.family == a.family && compare_ip(own, a) == 0) {
        return a.port >= o_.relay_min_port && a.port <= o_.relay_max_port;
      }
    }
  }
  return true;
}

}  // namespace turnpike::server::engine
