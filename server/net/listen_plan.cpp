// SPDX-License-Identifier: Apache-2.0
// Listening addresses and RFC 5780 pairing.
#include "server/net/listen_plan.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>

#include "server/net/relays/port_probe.hpp"
#include "server/net/socket_setup.hpp"

namespace turnpike::server::net {

std::vector<interface_address> named_interface_addresses() {
  std::vector<interface_address> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0) continue;
    protocol::transport_address a;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      a.family = protocol::address_family::ipv4;
      std::memcpy(a.ip.data(), &sin->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;  // would need a scope id
      a.family = protocol::address_family::ipv6;
      std::memcpy(a.ip.data(), &sin6->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back({i->ifa_name, a});
  }
  freeifaddrs(list);
  return out;
}

std::vector<protocol::transport_address> interface_addresses() {
  std::vector<protocol::transport_address> out;
  for (const auto& i : named_interface_addresses()) {
    if (std::find(out.begin(), out.end(), i.address) == out.end()) out.push_back(i.address);
  }
  return out;
}

std::uint16_t free_udp_and_tcp_port(const protocol::transport_address& ip) {
  // The kernel's ephemeral range, where an OS-chosen port would come from.
  unsigned lo = 32768, hi = 60999;
  if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    unsigned a = 0, b = 0;
    if (std::fscanf(f, "%u %u", &a, &b) == 2 && a > 0 && a <= b && b <= 65535) lo = a, hi = b;
    (void)std::fclose(f);
  }
  std::minstd_rand rng(std::random_device{}());
  const auto port = port_probe(static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi), rng)
                        .find([&](std::uint16_t candidate) {
                          protocol::transport_address at = ip;
                          at.port = candidate;
                          const int udp = bind_socket(SOCK_DGRAM, at, {});
                          if (udp < 0) return false;
                          const int tcp = bind_socket(SOCK_STREAM, at, {});
                          if (tcp >= 0) ::close(tcp);
                          ::close(udp);
                          return tcp >= 0;
                        });
  return port.value_or(0);
}

listen_plan make_listen_plan(const config::server_config& cfg,
                             std::vector<protocol::transport_address> ips) {
  listen_plan plan;
  for (auto& ip : ips) ip.port = 0;
  plan.ips = std::move(ips);
  plan.port = cfg.listening_port;
  // An OS-chosen port (0) has no defined alternate: no RFC 5780 then.
  if (!cfg.rfc5780 || cfg.listening_port == 0) return plan;
  engine::engine_settings::rfc5780_addresses r;
  for (auto family : {protocol::address_family::ipv4, protocol::address_family::ipv6}) {
    std::vector<protocol::transport_address> same;
    for (const auto& ip : plan.ips) {
      if (ip.family == family) same.push_back(ip);
    }
    if (same.size() < 2) continue;
    for (std::size_t i = 0; i < same.size(); ++i) {
      r.other_ip.emplace_back(same[i], same[(i + 1) % same.size()]);
    }
  }
  if (r.other_ip.empty()) return plan;
  plan.alt_port = cfg.effective_alt_port();
  r.port = plan.port;
  r.alt_port = plan.alt_port;
  plan.rfc5780 = std::move(r);
  return plan;
}

}  // namespace turnpike::server::net
