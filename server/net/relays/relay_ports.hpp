// SPDX-License-Identifier: Apache-2.0
// What relays keep across shards, as bare descriptors under a mutex (touched on set-up only,
// never per packet), adopted by whichever shard asks:
// - ports kept for a later Allocate by EVEN-PORT's R bit (RFC 8656 section 7.2,
//   RESERVATION-TOKEN): the bound socket waits 30 s under a random 8-byte token;
// - RFC 6062 peer connections waiting for the client's ConnectionBind, which may arrive on
//   any shard (SO_REUSEPORT hashes the new data connection anywhere), with the credentials
//   it must carry; 30 s later an unclaimed one is closed (RFC 6062 sections 5.3, 5.4).
#pragma once

#include <chrono>

#include "server/engine/relay_io.hpp"
#include "server/net/held_descriptors.hpp"

namespace turnpike::server::net {

class relay_reservations {
 public:
  // Keeps `fd` (a bound UDP socket at `local`) and returns its token.
  engine::reservation_token put(int fd, const protocol::transport_address& local);
  // Takes the socket kept under `token`; nullopt when unknown or expired.
  std::optional<std::pair<int, protocol::transport_address>> take(
      const engine::reservation_token& token) {
    return held_.take(token);
  }
  void expire() { held_.expire(); }

 private:
  held_descriptors<engine::reservation_token, protocol::transport_address> held_{
      std::chrono::seconds(30)};
};

using tcp_connection_registry = held_descriptors<std::uint32_t, engine::tcp_connection_credentials>;
inline constexpr std::chrono::seconds tcp_bind_limit{30};

}  // namespace turnpike::server::net
