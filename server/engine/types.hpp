// SPDX-License-Identifier: Apache-2.0
// Vocabulary shared by the sans-IO engine and the network layer: transports, five-tuples,
// the sink the engine writes its output through, and per-shard counters.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"

namespace turnpike::server::engine {

enum class transport : std::uint8_t { udp, tcp, tls, dtls };

const char* transport_name(transport t) noexcept;

// TCP and TLS carry byte streams (frames, padded ChannelData, RFC 6062 connections); UDP and
// DTLS carry datagrams.
constexpr bool is_stream(transport t) noexcept {
  return t == transport::tcp || t == transport::tls;
}

// A client's path to the server: for UDP the pair of addresses, for streams one connection.
struct five_tuple {
  transport proto = transport::udp;
  protocol::transport_address local;
  protocol::transport_address remote;
  friend bool operator==(const five_tuple&, const five_tuple&) = default;
};

// Where the engine's output goes. For UDP, `path.local` names the server socket to send from
// (an RFC 5780 CHANGE-REQUEST may pick another one) and `path.remote` the destination; for a
// stream, `path` is the connection the request came in on.
class client_sink {
 public:
  virtual void send_to_client(const five_tuple& path, protocol::byte_span bytes) = 0;

 protected:
  ~client_sink() = default;
};

// Per-allocation traffic, for redis-statsdb: from the client to peers ("received") and from
// peers to the client ("sent"), as coturn reports them.
struct allocation_traffic {
  std::uint64_t received_packets = 0;
  std::uint64_t received_bytes = 0;
  std::uint64_t sent_packets = 0;
  std::uint64_t sent_bytes = 0;
};

// What the engine tells an observer about allocations (redis-statsdb). `id` is unique within
// the engine.
struct allocation_event {
  enum class kind { created, refreshed, deleted };
  kind what = kind::created;
  std::uint64_t id = 0;
  std::string_view user;
  std::string_view realm;
  std::uint32_t lifetime = 0;  // seconds (created, refreshed)
  allocation_traffic traffic;  // refreshed: since the last report; deleted: in all
};

class allocation_observer {
 public:
  virtual void on_allocation(const allocation_event& e) = 0;

 protected:
  ~allocation_observer() = default;
};

// The labels of engine_counters' tables (metrics), in index order.
inline constexpr std::array<std::uint16_t, 8> response_methods{
    0x001, 0x003, 0x004, 0x008, 0x009, 0x00A, 0x00B, 0};  // ..., 0: any other
inline constexpr std::array<const char*, 8> response_method_names{
    "binding",      "allocate", "refresh",         "create_permission",
    "channel_bind", "connect",  "connection_bind", "other"};
inline constexpr std::array<std::uint16_t, 18> response_codes{
    200, 300, 400, 401, 403, 420, 437, 438, 440, 441, 442, 443, 446, 447, 486, 500, 508, 0};
enum class auth_failure : std::uint8_t {
  challenge,            // no MESSAGE-INTEGRITY yet: the 401 that starts every exchange
  missing_attributes,   // integrity without USERNAME/REALM/NONCE (400)
  stale_nonce,          // expired, forged or another client's nonce (438)
  password_algorithms,  // PASSWORD-ALGORITHM(S) missing or changed (400)
  wrong_realm,          // a realm that is not ours, or USERHASH alone (401)
  wrong_user,           // another user on an existing allocation (441)
  bad_credentials,      // unknown user or wrong password (401; the same answer for both)
  store_unavailable,    // the key store could not answer (500)
  user_throttled,       // too many failed attempts on this user this second: dropped
  count_
};
inline constexpr std::array<const char*, 9> auth_failure_names{
    "challenge",  "missing_attributes", "stale_nonce",       "password_algorithms", "wrong_realm",
    "wrong_user", "bad_credentials",    "store_unavailable", "user_throttled"};

// Plain counters owned by one shard (no atomics: only the shard's thread writes them).
struct engine_counters {
  std::uint64_t packets_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t binding_requests = 0;
  std::uint64_t binding_classic = 0;  // RFC 3489 requests without the magic cookie
  std::uint64_t success_responses = 0;
  std::uint64_t error_responses = 0;
  std::uint64_t dropped_malformed = 0;
  std::uint64_t dropped_bad_fingerprint = 0;
  std::uint64_t dropped_not_request = 0;  // responses and indications the server has no use for
  std::uint64_t dropped_channel_data = 0;
  std::uint64_t dropped_unanswered = 0;       // no-stun / unsupported methods with no-answer policy
  std::uint64_t unauthenticated_limited = 0;  // 401 answers suppressed by the per-source limit
  std::uint64_t allocations_created = 0;
  std::uint64_t allocations_expired = 0;
  std::uint64_t relayed_to_peer_packets = 0;
  std::uint64_t relayed_to_peer_bytes = 0;
  std::uint64_t relayed_to_client_packets = 0;
  std::uint64_t relayed_to_client_bytes = 0;
  std::uint64_t dropped_no_allocation = 0;  // Send/ChannelData from a five-tuple without one
  std::uint64_t dropped_no_permission = 0;  // relayed data without a permission or channel
  std::uint64_t dropped_bandwidth = 0;      // over max-bps
  std::uint64_t allocations_deleted = 0;    // refreshed to 0, or the client's stream closed
  std::uint64_t allocations_ended = 0;      // ended by an operator (sessions API)
  std::uint64_t peer_refused = 0;           // 403 for a peer address the policy forbids
  // Relayed traffic by the client's transport and direction (0: to peers, 1: to clients).
  std::array<std::array<std::uint64_t, 2>, 4> relayed_packets_by{};
  std::array<std::array<std::uint64_t, 2>, 4> relayed_bytes_by{};
  // Answers sent, by method (response_methods) and code (response_codes; 200: success).
  std::array<std::array<std::uint64_t, response_codes.size()>, response_methods.size()> responses{};
  std::array<std::uint64_t, static_cast<std::size_t>(auth_failure::count_)> auth_failures{};

  engine_counters& operator+=(const engine_counters& o) noexcept;
};

// What exists now on one shard (metrics gauges).
struct engine_gauges {
  std::array<std::array<std::uint64_t, 2>, 4> allocations{};  // [client transport][relay family]
  std::uint64_t permissions = 0;
  std::uint64_t channels = 0;
  std::uint64_t pending_allocates = 0;  // waiting for a quota answer
  // Allocations of every client transport and relay family.
  std::uint64_t allocations_total() const noexcept {
    std::uint64_t n = 0;
    for (const auto& by_family : allocations) {
      for (const std::uint64_t a : by_family) n += a;
    }
    return n;
  }
  engine_gauges& operator+=(const engine_gauges& o) noexcept;
};

}  // namespace turnpike::server::engine
