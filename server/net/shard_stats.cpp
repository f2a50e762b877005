// SPDX-License-Identifier: Apache-2.0
#include "server/net/shard_stats.hpp"

namespace turnpike::server::net {

shard_snapshot& shard_snapshot::operator+=(const shard_snapshot& o) noexcept {
  counters += o.counters;
  gauges += o.gauges;
  dtls += o.dtls;
  handling += o.handling;
#define TURNPIKE_ADD_STAT(member, family, label, type, help) member += o.member;
  TURNPIKE_SHARD_STATS(TURNPIKE_ADD_STAT)
#undef TURNPIKE_ADD_STAT
  cpu_seconds += o.cpu_seconds;
  return *this;
}

}  // namespace turnpike::server::net
