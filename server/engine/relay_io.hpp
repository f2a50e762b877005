// SPDX-License-Identifier: Apache-2.0
// What the engine needs from the network layer for relaying: relay sockets opened and closed,
// datagrams sent to peers. The engine never sees a socket; tests use a fake.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "protocol/bytes.hpp"
#include "protocol/result.hpp"
#include "protocol/types.hpp"

namespace turnpike::server::engine {

using relay_id = std::uint32_t;
using reservation_token = std::array<std::uint8_t, 8>;

struct relay_request {
  protocol::address_family family = protocol::address_family::ipv4;
  bool even_port = false;                  // EVEN-PORT
  bool reserve_next = false;               // EVEN-PORT with R: keep port+1 for a later Allocate
  std::optional<reservation_token> token;  // RESERVATION-TOKEN: use that reserved port
  bool dont_fragment = false;              // DONT-FRAGMENT: set DF on what the relay sends
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

 protected:
  ~relay_io() = default;
};

}  // namespace turnpike::server::engine
