// SPDX-License-Identifier: Apache-2.0
// What the engine needs from the network layer for relaying: relay sockets opened and closed,
// datagrams sent to peers. The engine never sees a socket; tests use a fake.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "auth/key_source.hpp"
#include "protocol/bytes.hpp"
#include "protocol/result.hpp"
#include "protocol/types.hpp"
#include "server/engine/types.hpp"

namespace turnpike::server::engine {

using relay_id = std::uint32_t;
using reservation_token = std::array<std::uint8_t, 8>;

struct relay_request {
  protocol::address_family family = protocol::address_family::ipv4;
  bool even_port = false;                  // EVEN-PORT
  bool reserve_next = false;               // EVEN-PORT with R: keep port+1 for a later Allocate
  std::optional<reservation_token> token;  // RESERVATION-TOKEN: use that reserved port
  bool dont_fragment = false;              // DONT-FRAGMENT: set DF on what the relay sends
  bool tcp = false;                        // RFC 6062: a TCP relay
  // The allocation's client, on its first relay only (shard packing pins it to the shard for
  // that relay's life).
  std::optional<five_tuple> client;
};

// RFC 6062: what a data connection's ConnectionBind is checked against, kept with the peer
// connection until the client binds it (possibly on another shard).
struct tcp_connection_credentials {
  std::string username;
  auth::credential key;
  bool key_is_sha256 = false;
};

struct opened_relay {
  relay_id id = 0;
  protocol::transport_address local;          // the bound relay address
  std::optional<reservation_token> reserved;  // set when reserve_next was honoured
};

enum class relay_error { no_such_family, no_port, bad_token };

class relay_io {
 public:
  virtual std::optional<opened_relay> open_relay(const relay_request& request,
                                                 relay_error& why) = 0;
  virtual void close_relay(relay_id id) = 0;
  virtual void send_to_peer(relay_id id, const protocol::transport_address& peer,
                            protocol::byte_span bytes) = 0;

  // RFC 6062. Connect from the TCP relay `id` to `peer`; the outcome comes back through
  // engine::on_peer_connected(connection_id, ok). Default: no TCP relays.
  virtual void connect_peer(relay_id id, const protocol::transport_address& peer,
                            std::uint32_t connection_id,
                            const tcp_connection_credentials& credentials) {
    (void)id, (void)peer, (void)connection_id, (void)credentials;
  }
  // The credentials kept with a peer connection awaiting ConnectionBind.
  virtual std::optional<tcp_connection_credentials> connection_credentials(
      std::uint32_t connection_id) {
    (void)connection_id;
    return std::nullopt;
  }
  // Joins the peer connection to the client's data connection `data_path` (raw bytes both
  // ways from now on). False when the peer connection is gone.
  virtual bool bind_connection(std::uint32_t connection_id, const five_tuple& data_path) {
    (void)connection_id, (void)data_path;
    return false;
  }

 protected:
  ~relay_io() = default;
};

}  // namespace turnpike::server::engine
