// SPDX-License-Identifier: Apache-2.0
// The per-source budget for unauthenticated answers: capped per second, larger for a source
// that has signed a request recently, and never raised by a collision.
#include "server/engine/challenge_budget.hpp"

#include <gtest/gtest.h>

namespace turnpike::server::engine {
namespace {

using namespace std::chrono_literals;

protocol::transport_address ip(const char* text, std::uint16_t port = 0) {
  return *protocol::transport_address::parse_ip(text, port);
}

int allowed(challenge_budget& b, const protocol::transport_address& source, std::int64_t second,
            int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += b.allow(source, second) ? 1 : 0;
  return n;
}

TEST(ChallengeBudget, CappedPerSecondAndPerIpNotPerPort) {
  challenge_budget b(20, 1000, 600s);
  EXPECT_EQ(allowed(b, ip("192.0.2.1", 1000), 100, 15), 15);
  EXPECT_EQ(allowed(b, ip("192.0.2.1", 2000), 100, 15), 5);  // same IP, another port
  EXPECT_EQ(allowed(b, ip("192.0.2.1"), 101, 30), 20);       // the next second
  EXPECT_EQ(allowed(b, ip("2001:db8::1"), 101, 30), 20);     // another source
}

TEST(ChallengeBudget, ASourceThatSignedGetsTheLargerBudgetForAWhile) {
  challenge_budget b(20, 1000, 600s);
  const auto office = ip("198.51.100.7", 40000);
  EXPECT_FALSE(b.proven(office, 100));
  b.prove(office, 100);
  EXPECT_TRUE(b.proven(ip("198.51.100.7", 1), 100));  // the IP, whatever the port
  EXPECT_EQ(allowed(b, office, 100, 2000), 1000);
  EXPECT_TRUE(b.proven(office, 700));
  EXPECT_EQ(allowed(b, office, 700, 2000), 1000);
  EXPECT_FALSE(b.proven(office, 701));  // ten minutes after the last signed request
  EXPECT_EQ(allowed(b, office, 701, 2000), 20);
  // Another IP is not proven by it.
  EXPECT_FALSE(b.proven(ip("198.51.100.8"), 100));
  EXPECT_EQ(allowed(b, ip("198.51.100.8"), 100, 100), 20);
}

TEST(ChallengeBudget, CollisionsShareABudgetAndNeverRaiseIt) {
  // Many sources in one second: whatever buckets they share, none is sent more than its own
  // budget, and the total never passes sources x budget.
  challenge_budget b(3, 1000, 600s);
  int total = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto source = ip(("10." + std::to_string(i / 65536) + "." +
                            std::to_string(i / 256 % 256) + "." + std::to_string(i % 256))
                               .c_str());
    const int n = allowed(b, source, 5, 5);
    EXPECT_LE(n, 3);
    total += n;
  }
  EXPECT_LE(total, 4096 * 3);  // at most one budget per bucket
  EXPECT_GT(total, 4096);      // and the buckets do get used
}

TEST(ChallengeBudget, ZeroMeansUnlimited) {
  challenge_budget off(0, 1000, 600s);
  EXPECT_EQ(allowed(off, ip("192.0.2.1"), 1, 5000), 5000);
  challenge_budget proven_unlimited(20, 0, 600s);
  proven_unlimited.prove(ip("192.0.2.2"), 1);
  EXPECT_EQ(allowed(proven_unlimited, ip("192.0.2.2"), 1, 5000), 5000);
  EXPECT_EQ(allowed(proven_unlimited, ip("192.0.2.3"), 1, 5000), 20);
}

}  // namespace
}  // namespace turnpike::server::engine
