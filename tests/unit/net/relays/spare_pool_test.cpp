// SPDX-License-Identifier: Apache-2.0
// The spare pool with a fake clock and real loopback sockets.
#include "server/net/relays/spare_pool.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/loopback_udp.hpp"

namespace turnpike::server::net {
namespace {

using namespace std::chrono_literals;

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

TEST(SparePool, TakesByFamilyAndDontFragmentAndDiscardsWhatArrivedMeanwhile) {
  std::minstd_rand rng(1);
  spare_pool pool;
  const spare_pool::time_point t0{};
  test::loopback_udp a, b;  // their descriptors go to the pool, then back to the test
  const int fa = std::exchange(a.fd, -1);
  const int fb = std::exchange(b.fd, -1);
  ASSERT_TRUE(pool.keep(fa, a.address, false, t0));
  ASSERT_TRUE(pool.keep(fb, b.address, true, t0));
  test::loopback_udp peer;
  ASSERT_TRUE(peer.send_to(a.address, "for the deleted allocation"));
  pollfd p{fa, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);  // it has arrived
  protocol::transport_address local;
  EXPECT_EQ(pool.take(protocol::address_family::ipv6, false, local, t0, rng), -1);
  EXPECT_EQ(pool.take(protocol::address_family::ipv4, false, local, t0, rng), fa);
  EXPECT_EQ(local, a.address);
  char c;
  EXPECT_LT(::recv(fa, &c, 1, MSG_DONTWAIT), 0);  // the old datagram is gone
  EXPECT_EQ(pool.take(protocol::address_family::ipv4, true, local, t0, rng), fb);
  EXPECT_TRUE(pool.empty());
  ::close(fa);
  ::close(fb);
}

TEST(SparePool, SparesExpireAfterTheirLifetimeAndThePoolIsBounded) {
  std::minstd_rand rng(1);
  spare_pool pool;
  const spare_pool::time_point t0{};
  std::vector<int> fds;
  for (std::size_t i = 0; i < spare_pool::max_spares + 1; ++i) {
    test::loopback_udp s;
    const int fd = std::exchange(s.fd, -1);
    if (pool.keep(fd, s.address, false, t0 + std::chrono::milliseconds(i))) {
      fds.push_back(fd);
    } else {
      ::close(fd);
    }
  }
  EXPECT_EQ(pool.size(), spare_pool::max_spares);
  EXPECT_EQ(*pool.next_expiry(), t0 + spare_pool::lifetime);
  pool.expire(t0 + spare_pool::lifetime + 10ms);  // the first 11 (0..10 ms) go
  EXPECT_EQ(pool.size(), spare_pool::max_spares - 11);
  EXPECT_FALSE(is_open(fds[0]));
  EXPECT_TRUE(is_open(fds[11]));
  protocol::transport_address local;
  EXPECT_EQ(pool.take(protocol::address_family::ipv4, false, local, t0 + 1h, rng), -1);
  EXPECT_TRUE(pool.empty());
  EXPECT_FALSE(pool.next_expiry());
  EXPECT_FALSE(is_open(fds.back()));
}

}  // namespace
}  // namespace turnpike::server::net
