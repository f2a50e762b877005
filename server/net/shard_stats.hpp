// SPDX-License-Identifier: Apache-2.0
// A shard's statistics: the time it spent handling each STUN message, and the snapshot of
// its state that metrics read (made on the shard's own thread, summed over the shards).
#pragma once

#include <array>
#include <cstdint>

#include "server/engine/types.hpp"
#include "server/net/dtls.hpp"

namespace turnpike::server::net {

// Time the shard spent handling one STUN message (not ChannelData), in seconds. Fixed
// buckets, plain counters: only the shard's thread writes them.
struct handling_histogram {
  static constexpr std::array<double, 11> bounds{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4,
                                                 1e-3, 5e-3, 1e-2, 5e-2, 1e-1};
  std::array<std::uint64_t, bounds.size() + 1> counts{};  // the last: above every bound
  double sum = 0;
  void observe(double seconds) noexcept {
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i]) ++i;
    ++counts[i];
    sum += seconds;
  }
  handling_histogram& operator+=(const handling_histogram& o) noexcept {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
    sum += o.sum;
    return *this;
  }
};

// The shard's own figures, each spelt once: X(member, Prometheus family, label value, Counter
// or Gauge, help), as TURNPIKE_ENGINE_COUNTERS (engine/types.hpp) says.
#define TURNPIKE_SHARD_STATS(X)                                                  \
  X(send_failures, "turnpike_dropped_packets_total", "send_failed", Counter, "") \
  X(stream_connections, "turnpike_stream_connections", "", Gauge,                \
    "TCP and TLS client connections open now.")                                  \
  X(stream_timeouts, "turnpike_stream_timeouts_total", "", Counter,              \
    "Stream clients closed for a handshake, frame or idle timeout.")             \
  X(streams_refused, "turnpike_streams_refused_total", "", Counter,              \
    "Connections refused by max-connections-per-ip.")                            \
  X(dtls_sessions, "turnpike_dtls_sessions", "", Gauge,                          \
    "DTLS sessions now (handshaking or established).")                           \
  X(relay_sockets, "turnpike_relay_ports_in_use", "", Gauge,                     \
    "Relayed ports in use now (UDP and TCP relays, relay-mux ones included).")   \
  X(mux_dropped, "turnpike_relay_mux_dropped_total", "", Counter,                \
    "relay-mux: datagrams for a relayed address deleted while they were queued.")

// A copy of a shard's state, made on its own thread (metrics).
struct shard_snapshot {
  engine::engine_counters counters;
  engine::engine_gauges gauges;
  dtls_counters dtls;
  handling_histogram handling;
#define TURNPIKE_DECLARE_STAT(member, family, label, type, help) std::uint64_t member = 0;
  TURNPIKE_SHARD_STATS(TURNPIKE_DECLARE_STAT)
#undef TURNPIKE_DECLARE_STAT
  double cpu_seconds = 0;  // the shard thread's CPU time since it started
  shard_snapshot& operator+=(const shard_snapshot& o) noexcept;
};

}  // namespace turnpike::server::net
