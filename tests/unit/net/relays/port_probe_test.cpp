// SPDX-License-Identifier: Apache-2.0
#include "server/net/relays/port_probe.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace turnpike::server::net {
namespace {

TEST(PortProbe, OffersRandomPortsInRangeUntilOneIsTaken) {
  std::minstd_rand rng(7);
  const port_probe probe(50000, 50999, rng);
  std::vector<std::uint16_t> offered;
  const auto port = probe.find([&](std::uint16_t p) {
    offered.push_back(p);
    return offered.size() == 5;
  });
  ASSERT_TRUE(port);
  EXPECT_EQ(*port, offered.back());
  EXPECT_EQ(offered.size(), 5u);
  for (auto p : offered) {
    EXPECT_GE(p, 50000);
    EXPECT_LE(p, 50999);
  }
  EXPECT_GT(std::set<std::uint16_t>(offered.begin(), offered.end()).size(), 1u);
}

TEST(PortProbe, EvenPortsAndPairsStayInRange) {
  std::minstd_rand rng(1);
  const port_probe probe(49153, 49156, rng);  // even: 49154 and 49156; a pair: only 49154
  std::set<std::uint16_t> offered;
  for (int i = 0; i < 50; ++i) {
    probe.find(
        [&](std::uint16_t p) {
          offered.insert(p);
          return true;
        },
        true, true);
  }
  EXPECT_EQ(offered, std::set<std::uint16_t>{49154});
}

TEST(PortProbe, GivesUpAfterItsAttempts) {
  std::minstd_rand rng(3);
  int tries = 0;
  EXPECT_FALSE(port_probe(1024, 65535, rng).find([&](std::uint16_t) {
    ++tries;
    return false;
  }));
  EXPECT_EQ(tries, port_probe::attempts);
  EXPECT_FALSE(port_probe(2000, 1999, rng).find([](std::uint16_t) { return true; }));
  EXPECT_EQ(*port_probe(4000, 4000, rng).find([](std::uint16_t) { return true; }), 4000);
}

}  // namespace
}  // namespace turnpike::server::net
