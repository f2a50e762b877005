// SPDX-License-Identifier: Apache-2.0
// Ports kept for a later Allocate by EVEN-PORT's R bit (RFC 8656 section 7.2,
// RESERVATION-TOKEN): the bound socket waits 30 s under a random 8-byte token, and the shard
// that receives the Allocate naming it adopts the socket.
#pragma once

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

}  // namespace turnpike::server::net
