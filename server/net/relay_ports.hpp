// SPDX-License-Identifier: Apache-2.0
// Relay port selection within min-port..max-port, and the server-wide table of ports kept
// for a later Allocate by EVEN-PORT's R bit (RFC 8656 section 7.2, RESERVATION-TOKEN). Ports
// are probed by binding (the kernel knows which are free); the reservation table is touched
// only on Allocate, so one mutex serves all shards.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>

#include "server/engine/relay_io.hpp"

namespace turnpike::server::net {

class relay_reservations {
 public:
  static constexpr std::chrono::seconds hold{30};

  // Keeps `fd` (a bound UDP socket) for `hold` and returns its token.
  engine::reservation_token put(int fd, const protocol::transport_address& local);
  // Takes the socket kept under `token`; nullopt when unknown or expired.
  std::optional<std::pair<int, protocol::transport_address>> take(
      const engine::reservation_token& token);
  ~relay_reservations();

 private:
  struct held {
    int fd;
    protocol::transport_address local;
    std::chrono::steady_clock::time_point until;
  };
  void drop_expired(std::chrono::steady_clock::time_point now);
  std::mutex mutex_;
  std::map<engine::reservation_token, held> held_;
};

}  // namespace turnpike::server::net
