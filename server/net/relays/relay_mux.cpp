// SPDX-License-Identifier: Apache-2.0
// Multiplexed relay ports: the sk_lookup program, its maps, the port pools and the headers of
// what the raw sockets send.
#include "server/net/relays/relay_mux.hpp"

#include <bpf/bpf.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <system_error>

#include "server/net/bpf/relay_steer_object.hpp"
#include "server/net/capabilities.hpp"
#include "server/net/embedded_bpf.hpp"

namespace turnpike::server::net {

namespace {

std::uint32_t fold(std::uint64_t sum) noexcept {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint32_t>(sum);
}

// Adds `p` as big-endian 16-bit words (odd length: padded with a zero byte). Read four bytes
// at a time: 2^16 = 1 modulo 0xffff, so 32-bit words fold to the same sum.
std::uint64_t add_bytes(std::uint64_t sum, const std::uint8_t* p, std::size_t n) noexcept {
  for (; n >= 4; p += 4, n -= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    sum += ntohl(w);
  }
  for (; n >= 2; p += 2, n -= 2) sum += static_cast<std::uint32_t>(p[0] << 8 | p[1]);
  if (n == 1) sum += static_cast<std::uint32_t>(p[0] << 8);
  return sum;
}

void put16(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::optional<std::string> relay_mux_unsupported(
    const std::vector<protocol::transport_address>& relay_ips, std::uint16_t min_port,
    std::uint16_t max_port) {
  for (const auto& ip : relay_ips) {
    if (ip.is_unspecified()) {
      return "relay-mux needs specific relay addresses (relay-ip or listening-ip), not " +
             ip.ip_string();
    }
  }
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned lo = 0, hi = 0;
  if (range >> lo >> hi && min_port <= hi && lo <= max_port) {
    return "relay-mux: relay ports " + std::to_string(min_port) + "-" + std::to_string(max_port) +
           " overlap the kernel's ephemeral ports " + std::to_string(lo) + "-" +
           std::to_string(hi) +
           " (net.ipv4.ip_local_port_range); set min-port/max-port outside them or move the "
           "sysctl, so no other socket can be given a relayed port";
  }
  return std::nullopt;
}

relay_mux::relay_mux(unsigned shards, std::vector<protocol::transport_address> relay_ips,
                     std::uint16_t min_port, std::uint16_t max_port,
                     const std::vector<std::uint16_t>& exclude) {
  const std::size_t per_ip = static_cast<std::size_t>(max_port - min_port) + 1;
  program_ = std::make_unique<embedded_bpf>(
      relay_steer_object, sizeof relay_steer_object, "relay-mux",
      "CAP_BPF, CAP_NET_ADMIN and CAP_NET_RAW", [&](bpf_object& o) {
        return set_map_size(o, "relay_ports",
                            static_cast<std::uint32_t>(per_ip * relay_ips.size())) &&
               set_map_size(o, "relay_sockets", 2 * shards);
      });
  ports_map_ = program_->map("relay_ports");
  sockets_map_ = program_->map("relay_sockets");
  program_->attach_netns("relay_steer");

  std::mt19937 rng;
  {
    std::uint32_t seed = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed);
    rng.seed(seed);
  }
  for (const auto& ip : relay_ips) {
    pool p;
    p.ip = ip;
    p.ip.port = 0;
    std::vector<std::uint16_t> all;
    all.reserve(per_ip);
    for (unsigned port = min_port; port <= max_port; ++port) {
      if (std::find(exclude.begin(), exclude.end(), port) == exclude.end()) {
        all.push_back(static_cast<std::uint16_t>(port));
        p.state[port] = port_free;
      }
    }
    std::shuffle(all.begin(), all.end(), rng);
    p.free.assign(all.begin(), all.end());
    p.available = all.size();
    pools_.push_back(std::move(p));
  }
}

relay_mux::~relay_mux() = default;

void relay_mux::add_socket(std::uint32_t slot, int fd) {
  const std::uint64_t value = static_cast<std::uint64_t>(fd);
  if (bpf_map_update_elem(sockets_map_, &slot, &value, BPF_ANY) != 0) {
    throw boost::system::system_error(errno, boost::system::system_category(),
                                      "relay-mux: cannot add a relay socket to the map");
  }
}

std::string relay_mux::drop_capabilities() {
  return net::drop_capabilities(
      {CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW}, "CAP_BPF, CAP_NET_ADMIN and CAP_NET_RAW", [this] {
        const address_key probe{};  // family 0: never looked up
        const std::uint32_t slot = 0;
        return bpf_map_update_elem(ports_map_, &probe, &slot, BPF_ANY) == 0 &&
               bpf_map_delete_elem(ports_map_, &probe) == 0;
      });
}

relay_mux::pool* relay_mux::pool_for(protocol::address_family family) noexcept {
  // The relay address of that family with the most ports free: allocations spread over them.
  pool* best = nullptr;
  for (auto& p : pools_) {
    if (p.ip.family == family && (best == nullptr || p.available > best->available)) best = &p;
  }
  return best;
}

relay_mux::pool* relay_mux::pool_of(const protocol::transport_address& relayed) noexcept {
  for (auto& p : pools_) {
    if (p.ip.family == relayed.family && p.ip.ip == relayed.ip) return &p;
  }
  return nullptr;
}

std::optional<std::uint16_t> relay_mux::take_port(pool& p, bool even, bool pair) noexcept {
  // From the front of the free list: stale entries dropped, ports of the wrong parity (or
  // without a free successor for a pair) moved to the back, 64 tries at most.
  for (int tries = 0; tries < 64 && !p.free.empty();) {
    const std::uint16_t port = p.free.front();
    p.free.pop_front();
    if (p.state[port] != port_free) continue;
    ++tries;
    const bool next_free = port < 65535 && p.state[port + 1u] == port_free;
    if ((even && port % 2 != 0) || (pair && !next_free)) {
      p.free.push_back(port);
      continue;
    }
    p.state[port] = port_used;
    --p.available;
    if (pair) {
      p.state[port + 1u] = port_used;  // its entry in the list goes stale
      --p.available;
    }
    return port;
  }
  return std::nullopt;
}

void relay_mux::give_port(pool& p, std::uint16_t port) noexcept {
  if (p.state[port] == port_free) return;
  p.state[port] = port_free;
  ++p.available;
  p.free.push_back(port);
}

bool relay_mux::steer(const protocol::transport_address& relayed, unsigned shard) noexcept {
  const address_key key = key_of(relayed);
  const std::uint32_t slot = relay_mux::slot(shard, relayed.family);
  if (bpf_map_update_elem(ports_map_, &key, &slot, BPF_ANY) == 0) return true;
  spdlog::warn("relay-mux: cannot steer {}: {}", relayed.to_string(),
               std::generic_category().message(errno));
  return false;
}

void relay_mux::expire_reservations() noexcept {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    if (it->second.until > now) {
      ++it;
      continue;
    }
    if (pool* p = pool_of(it->second.relayed)) give_port(*p, it->second.relayed.port);
    it = reservations_.erase(it);
  }
}

std::optional<relay_mux::opened> relay_mux::open(protocol::address_family family, bool even,
                                                 bool reserve_next, unsigned shard) {
  opened out;
  {
    const std::lock_guard lock(mutex_);
    expire_reservations();
    pool* p = pool_for(family);
    if (p == nullptr) return std::nullopt;
    const auto port = take_port(*p, even || reserve_next, reserve_next);
    if (!port) return std::nullopt;
    out.relayed = p->ip;
    out.relayed.port = *port;
    if (reserve_next) {
      engine::reservation_token token{};
      do {
        RAND_bytes(token.data(), static_cast<int>(token.size()));
      } while (reservations_.count(token) != 0);
      protocol::transport_address next = out.relayed;
      next.port = static_cast<std::uint16_t>(*port + 1);
      reservations_.emplace(
          token, reservation{next, std::chrono::steady_clock::now() + std::chrono::seconds(30)});
      out.token = token;
    }
  }
  if (!steer(out.relayed, shard)) {
    const std::lock_guard lock(mutex_);
    pool* p = pool_of(out.relayed);
    give_port(*p, out.relayed.port);
    if (out.token) {
      give_port(*p, static_cast<std::uint16_t>(out.relayed.port + 1));
      reservations_.erase(*out.token);
    }
    return std::nullopt;
  }
  return out;
}

std::optional<protocol::transport_address> relay_mux::claim(const engine::reservation_token& token,
                                                            unsigned shard) {
  protocol::transport_address relayed;
  {
    const std::lock_guard lock(mutex_);
    expire_reservations();
    const auto it = reservations_.find(token);
    if (it == reservations_.end()) return std::nullopt;
    relayed = it->second.relayed;
    reservations_.erase(it);
  }
  if (!steer(relayed, shard)) {
    const std::lock_guard lock(mutex_);
    give_port(*pool_of(relayed), relayed.port);
    return std::nullopt;
  }
  return relayed;
}

void relay_mux::close(const protocol::transport_address& relayed) noexcept {
  const address_key key = key_of(relayed);
  bpf_map_delete_elem(ports_map_, &key);
  const std::lock_guard lock(mutex_);
  if (pool* p = pool_of(relayed)) give_port(*p, relayed.port);
}

std::size_t relay_mux::ports_free() const {
  const std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& p : pools_) n += p.available;
  return n;
}

std::size_t build_udp_headers(const protocol::transport_address& from,
                              const protocol::transport_address& to, const std::uint8_t* payload,
                              std::size_t size, bool dont_fragment,
                              std::uint8_t (&out)[48]) noexcept {
  if (from.family != to.family || size > 65535 - 48) return 0;
  const std::size_t udp_len = 8 + size;
  const bool v4 = from.family == protocol::address_family::ipv4;
  const std::size_t ip_len = v4 ? 20 : 40;
  const std::size_t addr_len = v4 ? 4 : 16;
  std::uint8_t* ip = out;
  std::uint8_t* udp = out + ip_len;
  std::memset(out, 0, ip_len + 8);
  if (v4) {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint32_t>(ip_len + udp_len));  // the kernel rewrites it
    if (dont_fragment) ip[6] = 0x40;
    ip[8] = 64;  // TTL
    ip[9] = IPPROTO_UDP;
    std::memcpy(ip + 12, from.ip.data(), 4);
    std::memcpy(ip + 16, to.ip.data(), 4);
    // Identification and header checksum: filled in by the kernel.
  } else {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<std::uint32_t>(udp_len));
    ip[6] = IPPROTO_UDP;
    ip[7] = 64;  // hop limit
    std::memcpy(ip + 8, from.ip.data(), 16);
    std::memcpy(ip + 24, to.ip.data(), 16);
  }
  put16(udp, from.port);
  put16(udp + 2, to.port);
  put16(udp + 4, static_cast<std::uint32_t>(udp_len));
  // Checksum over the pseudo-header (addresses, protocol, length), the UDP header and the
  // payload; 0 is sent as 0xffff (0 means "none" in IPv4, and IPv6 forbids it).
  std::uint64_t sum = 0;
  sum = add_bytes(sum, from.ip.data(), addr_len);
  sum = add_bytes(sum, to.ip.data(), addr_len);
  sum += IPPROTO_UDP + udp_len;
  sum = add_bytes(sum, udp, 8);
  sum = add_bytes(sum, payload, size);
  std::uint32_t check = ~fold(sum) & 0xffff;
  if (check == 0) check = 0xffff;
  put16(udp + 6, check);
  return ip_len + 8;
}

}  // namespace turnpike::server::net
