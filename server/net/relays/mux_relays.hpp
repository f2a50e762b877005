// SPDX-License-Identifier: Apache-2.0
// A shard's relay-mux relays (relay_mux.hpp): no socket per relay. The shard has one receive
// socket per address family, to which the sk_lookup program steers every relayed address the
// shard holds (IP(V6)_ORIGDSTADDR tells which), and one raw socket per family that sends from
// any relayed address (headers written here).
#pragma once

#include <array>
#include <optional>
#include <unordered_map>
#include <vector>

#include "server/engine/relay_io.hpp"
#include "server/net/address_hash.hpp"
#include "server/net/relays/relay_host.hpp"
#include "server/net/relays/relay_mux.hpp"

namespace turnpike::server::net {

class mux_relays {
 public:
  mux_relays(relay_host& host, relay_mux& mux) noexcept : host_(host), mux_(mux) {}
  ~mux_relays() { close_sockets(); }
  mux_relays(const mux_relays&) = delete;
  mux_relays& operator=(const mux_relays&) = delete;

  // Opens the receive socket (in the program's socket map) and raw send socket for every
  // family of `ips`. While the server is set up, before any thread starts, so the
  // capabilities it needs can be dropped afterwards. Throws boost::system::system_error.
  void open_sockets(const std::vector<protocol::transport_address>& ips);
  void close_sockets() noexcept;
  std::optional<engine::opened_relay> open(const engine::relay_request& request,
                                           engine::relay_id id, engine::relay_error& why);
  bool close(engine::relay_id id) noexcept;
  bool send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                    protocol::byte_span bytes) noexcept;
  // The poller found family `family`'s receive socket readable (0: IPv4, 1: IPv6).
  bool read(std::size_t family) noexcept;
  std::size_t size() const noexcept { return relays_.size(); }
  // Datagrams to a relayed address no longer held.
  std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  struct relay {
    protocol::transport_address local;
    bool dont_fragment = false;
  };
  relay_host& host_;
  relay_mux& mux_;
  std::unordered_map<engine::relay_id, relay> relays_;
  std::unordered_map<protocol::transport_address, engine::relay_id, transport_address_hash> ids_;
  std::array<int, 2> in_{-1, -1};   // receive sockets: [0] IPv4, [1] IPv6
  std::array<int, 2> out_{-1, -1};  // raw IPPROTO_RAW send sockets
  std::uint64_t dropped_ = 0;
};

}  // namespace turnpike::server::net
