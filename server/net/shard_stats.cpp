// SPDX-License-Identifier: Apache-2.0
#include "server/net/shard_stats.hpp"

namespace turnpike::server::net {

shard_snapshot& shard_snapshot::operator+=(const shard_snapshot& o) noexcept {
  counters += o.counters;
  gauges += o.gauges;
  dtls += o.dtls;
  handling += o.handling;
  send_failures += o.send_failures;
  stream_timeouts += o.stream_timeouts;
  streams_refused += o.streams_refused;
  stream_connections += o.stream_connections;
  dtls_sessions += o.dtls_sessions;
  relay_sockets += o.relay_sockets;
  mux_dropped += o.mux_dropped;
  cpu_seconds += o.cpu_seconds;
  return *this;
}

}  // namespace turnpike::server::net
