// SPDX-License-Identifier: Apache-2.0
#include "server/net/shard_stats.hpp"

#include <gtest/gtest.h>

namespace turnpike::server::net {
namespace {

TEST(HandlingHistogram, EachObservationLandsInTheFirstBucketItFits) {
  handling_histogram h;
  h.observe(0.5e-6);  // <= 1 us
  h.observe(1e-6);    // on the bound: still the first
  h.observe(3e-3);    // <= 5 ms
  h.observe(1.0);     // above every bound
  EXPECT_EQ(h.counts[0], 2u);
  EXPECT_EQ(h.counts[7], 1u);
  EXPECT_EQ(h.counts.back(), 1u);
  EXPECT_DOUBLE_EQ(h.sum, 0.5e-6 + 1e-6 + 3e-3 + 1.0);
}

TEST(ShardSnapshot, SumsEveryField) {
  shard_snapshot a, b;
  a.send_failures = 1;
  a.relay_sockets = 2;
  a.counters.allocations_created = 3;
  a.handling.observe(1e-6);
  a.cpu_seconds = 0.5;
  b.send_failures = 10;
  b.relay_sockets = 20;
  b.mux_dropped = 4;
  b.stream_timeouts = 5;
  b.streams_refused = 6;
  b.stream_connections = 7;
  b.dtls_sessions = 8;
  b.counters.allocations_created = 30;
  b.handling.observe(1e-6);
  b.cpu_seconds = 1.5;
  a += b;
  EXPECT_EQ(a.send_failures, 11u);
  EXPECT_EQ(a.relay_sockets, 22u);
  EXPECT_EQ(a.mux_dropped, 4u);
  EXPECT_EQ(a.stream_timeouts, 5u);
  EXPECT_EQ(a.streams_refused, 6u);
  EXPECT_EQ(a.stream_connections, 7u);
  EXPECT_EQ(a.dtls_sessions, 8u);
  EXPECT_EQ(a.counters.allocations_created, 33u);
  EXPECT_EQ(a.handling.counts[0], 2u);
  EXPECT_DOUBLE_EQ(a.cpu_seconds, 2.0);
}

}  // namespace
}  // namespace turnpike::server::net
