// SPDX-License-Identifier: Apache-2.0
// One TURN allocation and what hangs off it (RFC 8656 sections 2.2, 9, 11): permissions
// (by peer IP, 300 s), channel bindings (number <-> peer transport address, 600 s), the
// credentials it was created with, and a token bucket for max-bps. Small vectors: real
// allocations have a handful of permissions and channels, and both are capped.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "auth/key_source.hpp"
#include "protocol/types.hpp"
#include "server/engine/kernel_channels.hpp"
#include "server/engine/relay_io.hpp"
#include "server/engine/types.hpp"

namespace turnpike::server::engine {

using clock = std::chrono::steady_clock;

// The caller's time: monotonic for lifetimes, Unix seconds for nonces and REST credentials.
struct instant {
  clock::time_point mono;
  std::int64_t unix_seconds = 0;
};

struct permission {
  protocol::transport_address ip;  // port ignored
  clock::time_point expiry;
};

struct channel_binding {
  std::uint16_t number = 0;
  protocol::transport_address peer;
  clock::time_point expiry;
};

struct relay_endpoint {
  relay_id id = 0;
  protocol::transport_address relayed;  // as advertised (external-ip applied)
  protocol::transport_address bound;    // as bound (what peers' datagrams arrive at)
};

// RFC 6062: a Connect waiting for the peer's TCP handshake.
struct pending_connect {
  std::uint32_t connection_id = 0;
  protocol::transport_address peer;
  protocol::transaction_id tid{};
  bool mi256 = false;        // answer signed as the request was
  bool fingerprint = false;  // the request carried FINGERPRINT
};

struct allocation {
  five_tuple client;
  bool tcp = false;  // RFC 6062 TCP relay
  std::vector<pending_connect> connects;
  // One relayed address, or two (IPv4 and IPv6) for a dual allocation (RFC 8656 section 7.2).
  std::vector<relay_endpoint> relays;
  std::string username;
  auth::credential key;
  bool key_is_sha256 = false;  // PASSWORD-ALGORITHM chose SHA-256
  protocol::transaction_id allocate_tid{};
  std::optional<reservation_token> reserved;
  clock::time_point created;
  clock::time_point expiry;
  clock::time_point scheduled = clock::time_point::max();  // earliest queued deadline
  std::uint64_t id = 0;                                    // for the observer (statsdb keys)
  allocation_traffic traffic;                              // in all
  allocation_traffic reported;                             // as of the last observer report
  bool holds_quota = false;
  std::uint64_t lease = 0;   // the quota lease (with holds_quota)
  int additional_error = 0;  // dual allocation asked, IPv6 half refused: 440 or 508
  std::vector<permission> permissions;
  std::vector<channel_binding> channels;
  kernel_state kernel;  // kernel-relay: its routes and counter slot (kernel_channels.hpp)
  // max-bps token bucket, in bytes.
  double tokens = 0;
  clock::time_point refilled;

  const relay_endpoint* relay_for(protocol::address_family f) const noexcept {
    for (const auto& r : relays) {
      if (r.relayed.family == f) return &r;
    }
    return nullptr;
  }
  permission* find_permission(const protocol::transport_address& peer) noexcept {
    for (auto& p : permissions) {
      if (p.ip.family == peer.family && p.ip.ip == peer.ip) return &p;
    }
    return nullptr;
  }
  channel_binding* channel_by_number(std::uint16_t n) noexcept {
    for (auto& c : channels) {
      if (c.number == n) return &c;
    }
    return nullptr;
  }
  channel_binding* channel_by_peer(const protocol::transport_address& peer) noexcept {
    for (auto& c : channels) {
      if (c.peer == peer) return &c;
    }
    return nullptr;
  }
  // Drops what expired; returns the next expiry of anything left (or the allocation's).
  clock::time_point expire(clock::time_point now) {
    std::erase_if(permissions, [&](const permission& p) { return p.expiry <= now; });
    std::erase_if(channels, [&](const channel_binding& c) { return c.expiry <= now; });
    clock::time_point next = expiry;
    for (const auto& p : permissions) next = std::min(next, p.expiry);
    for (const auto& c : channels) next = std::min(next, c.expiry);
    return next;
  }
};

}  // namespace turnpike::server::engine
