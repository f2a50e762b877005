// SPDX-License-Identifier: Apache-2.0
// Multiplexed relay ports (option relay-mux): UDP allocations without a socket each.
//
// An sk_lookup BPF program attached to the server's network namespace delivers every UDP
// datagram addressed to a relayed transport address the server handed out to one receive
// socket per shard and family (the shard that owns the allocation); the socket learns the
// address it was sent to from IP_ORIGDSTADDR. What the relay sends to peers leaves through a
// raw IPPROTO_RAW socket per shard and family, with the IP and UDP headers written here, so
// it carries the relayed address as its source. An allocation costs a hash map entry in the
// kernel instead of a socket: 100 000 of them fit in a process limited to 20 000 descriptors,
// and a shard reads and writes the peers of all its allocations with one recvmmsg and one
// sendmmsg per wake-up.
//
// Needs CAP_BPF, CAP_NET_ADMIN and CAP_NET_RAW (root), Linux 5.9 or later, relay IPs that
// are not wildcards (several per family are used in turn, most free ports first: each adds
// max-port - min-port + 1 relayed addresses), and a relay port range outside the kernel's
// ephemeral ports: the program takes those ports from every other socket of the namespace.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/types.hpp"
#include "server/engine/relay_io.hpp"

namespace turnpike::server::net {

class embedded_bpf;

// Why relay-mux cannot be used here (a start-up error), or nullopt.
std::optional<std::string> relay_mux_unsupported(
    const std::vector<protocol::transport_address>& relay_ips, std::uint16_t min_port,
    std::uint16_t max_port);

class relay_mux {
 public:
  // Loads and attaches the program; throws std::runtime_error with the reason. Ports in
  // `exclude` (the listeners') are never handed out, on any relay address.
  relay_mux(unsigned shards, std::vector<protocol::transport_address> relay_ips,
            std::uint16_t min_port, std::uint16_t max_port,
            const std::vector<std::uint16_t>& exclude);
  ~relay_mux();
  relay_mux(const relay_mux&) = delete;
  relay_mux& operator=(const relay_mux&) = delete;

  // The socket slot of a shard's receive socket for a family.
  static std::uint32_t slot(unsigned shard, protocol::address_family f) noexcept {
    return 2 * shard + (f == protocol::address_family::ipv6 ? 1u : 0u);
  }
  // Puts a shard's receive socket in the program's socket map; throws
  // boost::system::system_error on failure (start-up stops, as when a listener cannot bind).
  void add_socket(std::uint32_t slot, int fd);

  // A free relayed address on the relay IP of `family` (an even port if asked), steered to
  // `shard`'s socket; with `reserve_next`, port + 1 is kept for 30 s under the returned token
  // (EVEN-PORT R, RFC 8656 section 7.2). nullopt when no port is free (or the kernel map refused).
  // Thread-safe.
  struct opened {
    protocol::transport_address relayed;
    std::optional<engine::reservation_token> token;
  };
  std::optional<opened> open(protocol::address_family family, bool even, bool reserve_next,
                             unsigned shard);
  // The port kept under `token`, now steered to `shard`'s socket; nullopt when unknown or
  // expired.
  std::optional<protocol::transport_address> claim(const engine::reservation_token& token,
                                                   unsigned shard);
  // Stops steering `relayed` and returns its port to the back of the free list. Thread-safe.
  void close(const protocol::transport_address& relayed) noexcept;

  std::size_t ports_free() const;

  // Once the program is attached and the shards' sockets are open, CAP_BPF, CAP_NET_ADMIN and
  // CAP_NET_RAW are no longer needed: the map descriptors and raw sockets keep working without
  // them (Linux 5.19 and later let a descriptor's holder update a map however
  // kernel.unprivileged_bpf_disabled is set). Drops them from every set of the calling thread
  // when it is the process's only thread (capabilities are per thread; threads started later
  // inherit the drop), after checking that a map update still works without them. Returns
  // what was done, for the log.
  std::string drop_capabilities();

 private:
  enum : std::uint8_t { port_free = 0, port_used = 1 };
  struct pool {
    protocol::transport_address ip;
    std::deque<std::uint16_t> free;  // shuffled; closed ports go to the back; may hold stale
                                     // entries (ports taken as reservations), skipped
    std::vector<std::uint8_t> state = std::vector<std::uint8_t>(65536, port_used);
    std::size_t available = 0;
  };
  struct reservation {
    protocol::transport_address relayed;
    std::chrono::steady_clock::time_point until;
  };
  pool* pool_for(protocol::address_family family) noexcept;
  pool* pool_of(const protocol::transport_address& relayed) noexcept;
  std::optional<std::uint16_t> take_port(pool& p, bool even, bool pair) noexcept;
  void give_port(pool& p, std::uint16_t port) noexcept;
  bool steer(const protocol::transport_address& relayed, unsigned shard) noexcept;
  void expire_reservations() noexcept;  // with mutex_ held

  std::unique_ptr<embedded_bpf> program_;
  int ports_map_ = -1;
  int sockets_map_ = -1;
  mutable std::mutex mutex_;
  std::vector<pool> pools_;
  std::map<engine::reservation_token, reservation> reservations_;
};

// Builds the IPv4 or IPv6 and UDP headers of a datagram from `from` to `to` carrying
// `payload` (checksum included) into `out`; returns the header length (28 or 48), or 0 when
// the families differ or the datagram would be too large.
std::size_t build_udp_headers(const protocol::transport_address& from,
                              const protocol::transport_address& to, const std::uint8_t* payload,
                              std::size_t size, bool dont_fragment,
                              std::uint8_t (&out)[48]) noexcept;

}  // namespace turnpike::server::net
