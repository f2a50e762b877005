// SPDX-License-Identifier: Apache-2.0
// key_throttle on a fake clock: ten wrong keys from a source go through, then one try per
// refill; other sources are untouched; an IPv6 /64 is one source and an IPv4-mapped address
// is its IPv4 one; sources are forgotten once their bucket is full again; the table is
// bounded; the report comes at most once per period, with the loudest source.
#include "server/signaling/key_throttle.hpp"

#include <gtest/gtest.h>

namespace turnpike::server::signaling {
namespace {

using namespace std::chrono_literals;
using clock = key_throttle::clock;

TEST(KeyThrottle, TenWrongKeysThenOneTryPerRefill) {
  key_throttle t({10, 6s, 100, 10s});
  const auto t0 = clock::time_point{} + 1000s;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(t.wait("198.51.100.7", t0), clock::duration::zero()) << i;
    t.failed("198.51.100.7", t0);
  }
  EXPECT_EQ(t.wait("198.51.100.7", t0), 6s);
  EXPECT_EQ(t.wait("198.51.100.7", t0 + 2s), 4s);
  EXPECT_EQ(t.wait("198.51.100.8", t0), clock::duration::zero());  // another source
  // A refill later, one more try; if it fails too, the next waits a whole refill again.
  EXPECT_EQ(t.wait("198.51.100.7", t0 + 6s), clock::duration::zero());
  t.failed("198.51.100.7", t0 + 6s);
  EXPECT_EQ(t.wait("198.51.100.7", t0 + 6s), 6s);
  // Eleven failures, eleven refills: full again at t0 + 66 s, and then forgotten.
  t.expire(t0 + 65s);
  EXPECT_EQ(t.sources(), 1u);
  t.expire(t0 + 66s);
  EXPECT_EQ(t.sources(), 0u);
}

TEST(KeyThrottle, AnIpv6Slash64IsOneSourceAndMappedIpv4IsIpv4) {
  EXPECT_EQ(key_throttle::source_of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(key_throttle::source_of("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
  EXPECT_EQ(key_throttle::source_of("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(key_throttle::source_of("192.0.2.1"), "192.0.2.1");
  key_throttle t({3, 6s, 100, 10s});
  const auto t0 = clock::time_point{} + 1000s;
  t.failed("2001:db8:1:2::1", t0);
  t.failed("2001:db8:1:2::2", t0);
  t.failed("2001:db8:1:2::3", t0);
  EXPECT_GT(t.wait("2001:db8:1:2::4", t0), clock::duration::zero());
  EXPECT_EQ(t.wait("2001:db8:1:3::4", t0), clock::duration::zero());
}

TEST(KeyThrottle, TheTableIsBoundedAndTheOverflowCounted) {
  key_throttle t({2, 6s, 2, 10s});
  const auto t0 = clock::time_point{} + 1000s;
  t.failed("192.0.2.1", t0);
  t.failed("192.0.2.2", t0);
  t.failed("192.0.2.3", t0);  // the table is full of live sources: not tracked
  EXPECT_EQ(t.sources(), 2u);
  // Once the first two are full again, room is made for a new one.
  t.failed("192.0.2.4", t0 + 7s);
  EXPECT_EQ(t.sources(), 1u);
  const auto r = t.take_report(t0 + 7s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->failed, 4u);
  EXPECT_EQ(r->untracked, 1u);
}

TEST(KeyThrottle, ReportsAtMostOncePerPeriodWithTheLoudestSource) {
  key_throttle t({2, 6s, 100, 10s});
  const auto t0 = clock::time_point{} + 1000s;
  EXPECT_FALSE(t.take_report(t0));  // nothing happened
  t.failed("192.0.2.1", t0);
  for (int i = 0; i < 3; ++i) t.failed("192.0.2.9", t0);
  EXPECT_GT(t.wait("192.0.2.9", t0), clock::duration::zero());
  EXPECT_GT(t.wait("192.0.2.9", t0), clock::duration::zero());
  auto r = t.take_report(t0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->failed, 4u);
  EXPECT_EQ(r->throttled, 2u);
  EXPECT_EQ(r->sources_throttled, 1u);
  EXPECT_EQ(r->loudest, "192.0.2.9");
  EXPECT_EQ(r->loudest_failed, 3u);
  t.failed("192.0.2.1", t0 + 1s);
  EXPECT_FALSE(t.take_report(t0 + 9s));  // within the period: held
  r = t.take_report(t0 + 10s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->failed, 1u);
  EXPECT_EQ(r->loudest, "192.0.2.1");
}

}  // namespace
}  // namespace turnpike::server::signaling
