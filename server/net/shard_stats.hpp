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

// A copy of a shard's state, made on its own thread (metrics).
struct shard_snapshot {
  engine::engine_counters counters;
  engine::engine_gauges gauges;
  dtls_counters dtls;
  handling_histogram handling;
  std::uint64_t send_failures = 0;
  std::uint64_t stream_timeouts = 0;
  std::uint64_t streams_refused = 0;
  std::uint64_t stream_connections = 0;
  std::uint64_t dtls_sessions = 0;
  std::uint64_t relay_sockets = 0;  // UDP and TCP relays open
  std::uint64_t mux_dropped = 0;    // relay-mux: datagrams for relayed addresses not held
  double cpu_seconds = 0;           // the shard thread's CPU time since it started
  shard_snapshot& operator+=(const shard_snapshot& o) noexcept;
};

}  // namespace turnpike::server::net
