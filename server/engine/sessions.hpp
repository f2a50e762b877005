// SPDX-License-Identifier: Apache-2.0
// What an operator sees of allocations and how one is ended (the sessions API, coturn's
// telnet `ps`/`pu`): one row per allocation, and a filter naming which ones.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.hpp"
#include "server/engine/types.hpp"

namespace turnpike::server::engine {

struct session_info {
  std::uint64_t id = 0;  // unique within the engine (its shard)
  std::string username;
  five_tuple client;
  std::vector<protocol::transport_address> relayed;  // as advertised
  bool tcp_relay = false;                            // RFC 6062
  std::int64_t age_seconds = 0;
  std::int64_t lifetime_left_seconds = 0;
  allocation_traffic traffic;  // received: from the client to peers; sent: to the client
  std::size_t permissions = 0;
  std::size_t channels = 0;
};

// All set conditions must hold; an empty filter matches every allocation.
struct session_filter {
  std::optional<std::uint64_t> id;
  std::optional<std::string> username;
  std::optional<protocol::transport_address> client_ip;  // port ignored

  bool empty() const noexcept { return !id && !username && !client_ip; }
};

}  // namespace turnpike::server::engine
