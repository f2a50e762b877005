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
  friend bool operator==(const allocation_traffic&, const allocation_traffic&) = default;
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

// The engine's plain counters, each spelt once: X(member, Prometheus family, label value, help).
// A family with a label value is one series of that family (label "reason"); an empty family
// is kept for the stop summary only. engine_counters declares them, operator+= sums them,
// and the metrics endpoint renders them, all from this list.
#define TURNPIKE_ENGINE_COUNTERS(X)                                                              \
  X(packets_in, "turnpike_received_packets_total", "",                                           \
    "Client packets received (all transports).")                                                 \
  X(bytes_in, "turnpike_received_bytes_total", "", "Client bytes received (all transports).")    \
  X(binding_requests, "turnpike_binding_requests_total", "", "STUN Binding requests.")           \
  X(binding_classic, "", "", "RFC 3489 Binding requests (no magic cookie).")                     \
  X(success_responses, "", "", "Success responses sent.")                                        \
  X(error_responses, "", "", "Error responses sent.")                                            \
  X(dropped_malformed, "turnpike_dropped_packets_total", "malformed", "")                        \
  X(dropped_bad_fingerprint, "turnpike_dropped_packets_total", "bad_fingerprint", "")            \
  /* responses and indications the server has no use for */                                      \
  X(dropped_not_request, "turnpike_dropped_packets_total", "not_request", "")                    \
  X(dropped_channel_data, "turnpike_dropped_packets_total", "unknown_channel", "")               \
  /* no-stun, or methods answered by silence */                                                  \
  X(dropped_unanswered, "turnpike_dropped_packets_total", "unanswered", "")                      \
  /* 401/438 answers held back by the per-source budget */                                       \
  X(unauthenticated_limited, "turnpike_dropped_packets_total", "unauthenticated_rate_limit", "") \
  /* Send or ChannelData from a five-tuple without an allocation */                              \
  X(dropped_no_allocation, "turnpike_dropped_packets_total", "no_allocation", "")                \
  /* relayed data without a permission or channel */                                             \
  X(dropped_no_permission, "turnpike_dropped_packets_total", "no_permission", "")                \
  X(dropped_bandwidth, "turnpike_dropped_packets_total", "bandwidth", "") /* over max-bps */     \
  X(allocations_created, "turnpike_allocations_created_total", "", "Allocations created.")       \
  X(allocations_ended, "turnpike_allocations_ended_total", "",                                   \
    "Allocations ended by an operator (sessions API).")                                          \
  X(allocations_expired, "turnpike_allocations_expired_total", "",                               \
    "Allocations that reached their lifetime.")                                                  \
  X(allocations_deleted, "turnpike_allocations_deleted_total", "",                               \
    "Allocations deleted by the client (Refresh 0) or with its stream.")                         \
  X(relayed_to_peer_packets, "", "", "Packets relayed to peers.")                                \
  X(relayed_to_peer_bytes, "", "", "Bytes relayed to peers.")                                    \
  X(relayed_to_client_packets, "", "", "Packets relayed to clients.")                            \
  X(relayed_to_client_bytes, "", "", "Bytes relayed to clients.")                                \
  X(peer_refused, "turnpike_peer_refusals_total", "",                                            \
    "Peer addresses refused by the peer policy (403).")                                          \
  X(kernel_to_peer_packets, "turnpike_kernel_relayed_to_peer_packets_total", "",                 \
    "Packets the kernel relay carried from clients to peers (kernel-relay).")                    \
  X(kernel_to_client_packets, "turnpike_kernel_relayed_to_client_packets_total", "",             \
    "Packets the kernel relay carried from peers to clients (kernel-relay).")

// Plain counters owned by one shard (no atomics: only the shard's thread writes them).
struct engine_counters {
#define TURNPIKE_DECLARE_COUNTER(member, family, label, help) std::uint64_t member = 0;
  TURNPIKE_ENGINE_COUNTERS(TURNPIKE_DECLARE_COUNTER)
#undef TURNPIKE_DECLARE_COUNTER
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
