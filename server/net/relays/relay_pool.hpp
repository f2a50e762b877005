// SPDX-License-Identifier: Apache-2.0
// A shard's relays, what the engine sees of them (engine::relay_io): it names each relay by
// an id and the pool routes by kind: RFC 6062 TCP relays (tcp_relays.hpp), relay-mux relays
// (mux_relays.hpp) when relay-mux is on, else a UDP socket per relay (udp_relays.hpp). With
// shard-packing, a UDP client is pinned to this shard with its allocation's first relay and
// unpinned with it. The kernel relay (kernel_relays.hpp) relays the bound channels of UDP
// relays beside them; the engine talks to it directly (engine::kernel_io).
#pragma once

#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "server/engine/kernel_io.hpp"
#include "server/engine/relay_io.hpp"
#include "server/net/poller.hpp"
#include "server/net/relays/mux_relays.hpp"
#include "server/net/relays/relay_host.hpp"
#include "server/net/relays/relay_ports.hpp"
#include "server/net/relays/tcp_relays.hpp"
#include "server/net/relays/udp_relays.hpp"

namespace turnpike::server::net {

class shard_packing;

struct relay_setup {
  std::vector<protocol::transport_address> ips;  // relay IPs in use (ports unused)
  std::uint16_t min_port = 49152;
  std::uint16_t max_port = 65535;
  relay_reservations* reservations = nullptr;
  tcp_connection_registry* tcp_connections = nullptr;  // RFC 6062; null: no TCP relays
  relay_mux* mux = nullptr;  // relay-mux: UDP relays share the shard's sockets (relay_mux.hpp)
  shard_packing* packing = nullptr;  // shard-packing: UDP clients pinned here (shard_packing.hpp)
  engine::kernel_io* kernel = nullptr;  // kernel-relay: for the engine (kernel_relays.hpp)
};

class relay_pool final : public engine::relay_io {
 public:
  // `mux`: relay-mux's sockets, opened earlier (open_sockets needs capabilities that are
  // dropped before the pool is made); made here, without sockets, when setup.mux is set and
  // it is null.
  relay_pool(relay_host& host, relay_setup setup, std::unique_ptr<mux_relays> mux = nullptr);
  relay_pool(const relay_pool&) = delete;
  relay_pool& operator=(const relay_pool&) = delete;

  // engine::relay_io
  std::optional<engine::opened_relay> open_relay(const engine::relay_request& request,
                                                 engine::relay_error& why) override;
  void close_relay(engine::relay_id id) override;
  void send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                    protocol::byte_span bytes) override;
  void connect_peer(engine::relay_id id, const protocol::transport_address& peer,
                    std::uint32_t connection_id,
                    const engine::tcp_connection_credentials& credentials) override;
  std::optional<engine::tcp_connection_credentials> connection_credentials(
      std::uint32_t connection_id) override;
  bool bind_connection(std::uint32_t connection_id, const engine::five_tuple& data_path) override;

  // A relay's socket found readable (poll keys relay, connected_relay and mux).
  bool read(poll_key key) noexcept;
  // Closes the spare relay sockets now (out of descriptors).
  void give_back_spares() noexcept;
  // Closes every socket (the engine has ended its allocations).
  void close_all() noexcept;
  std::size_t open_relays() const noexcept;
  std::uint64_t mux_dropped() const noexcept { return mux_ ? mux_->dropped() : 0; }
  const relay_setup& setup() const noexcept { return setup_; }

 private:
  std::optional<engine::opened_relay> open_here(const engine::relay_request& request,
                                                engine::relay_id id, engine::relay_error& why);

  relay_host& host_;
  relay_setup setup_;
  relay_addresses addresses_;
  udp_relays udp_;
  std::optional<tcp_relays> tcp_;
  std::unique_ptr<mux_relays> mux_;
  // shard-packing: the first relay of each UDP client's allocation, and the client pinned
  // with it.
  std::unordered_map<engine::relay_id, engine::five_tuple> pinned_;
  engine::relay_id next_id_ = 1;
};

}  // namespace turnpike::server::net
