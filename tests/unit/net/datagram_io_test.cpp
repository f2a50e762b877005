// SPDX-License-Identifier: Apache-2.0
// send_batch and receive_batch on real loopback sockets: what is queued arrives as the same
// datagrams in the same order (GSO runs included), GRO runs are split again, failures are
// counted.
#include "server/net/datagram_io.hpp"

#include "support/loopback_udp.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace turnpike::server::net {
namespace {

using udp = test::loopback_udp;

protocol::byte_span span(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string payload(int i, std::size_t size) {
  std::string s(size, static_cast<char>('a' + i % 26));
  std::memcpy(s.data(), &i, sizeof i);
  return s;
}

TEST(SendBatch, RunOfSameSizeDatagramsLeavesInOneCallAndArrivesAsSent) {
  udp from, to;
  send_batch b;
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(payload(i, 100));
    EXPECT_EQ(b.push(from.fd, to.address, span(sent.back())), 0u);
  }
  EXPECT_EQ(b.flush(), 0u);
  EXPECT_EQ(b.datagrams_sent(), 20u);
  EXPECT_EQ(b.send_calls(), 1u);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(to.read_all(), sent);
}

TEST(SendBatch, MixedSizesDestinationsAndSocketsKeepPerDestinationOrder) {
  udp s1, s2, a, c;
  send_batch b;
  const std::vector<std::pair<int, std::string>> plan{{0, payload(1, 100)}, {0, payload(2, 100)},
                                                      {1, payload(3, 50)},  {0, payload(4, 100)},
                                                      {0, payload(5, 30)},  {1, payload(6, 50)}};
  // s1 sends all of them (0: to a, 1: to c); s2 sends two of its own to a, between.
  for (const auto& [dest, bytes] : plan) {
    b.push(s1.fd, dest == 0 ? a.address : c.address, span(bytes));
    if (bytes[0] == 2) b.push(s2.fd, a.address, span(std::string("from s2 ") + bytes));
  }
  EXPECT_EQ(b.flush(), 0u);
  EXPECT_EQ(b.datagrams_sent(), 7u);
  EXPECT_EQ(b.send_calls(), 2u);  // one sendmmsg per socket
  std::vector<std::string> from_s1, from_s2;
  for (const auto& d : a.read_all()) {
    (d.rfind("from s2 ", 0) == 0 ? from_s2 : from_s1).push_back(d);
  }
  EXPECT_EQ(from_s1, (std::vector<std::string>{plan[0].second, plan[1].second, plan[3].second,
                                               plan[4].second}));
  EXPECT_EQ(from_s2.size(), 1u);
  EXPECT_EQ(c.read_all(), (std::vector<std::string>{plan[2].second, plan[5].second}));
}

TEST(SendBatch, FlushesItselfWhenFull) {
  udp from, to;
  const int buffer = 4 << 20;
  ::setsockopt(to.fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  send_batch b;
  std::vector<std::string> sent;
  for (std::size_t i = 0; i < send_batch::max_datagrams * 2 + 3; ++i) {
    sent.push_back(payload(static_cast<int>(i), 64 + i));  // all sizes differ: no GSO
    b.push(from.fd, to.address, span(sent.back()));
  }
  b.flush();
  EXPECT_EQ(b.datagrams_sent(), sent.size());
  EXPECT_EQ(to.read_all(), sent);
}

TEST(SendBatch, SendsThatFailAreCountedNotRetried) {
  udp to;
  const int closed = ::socket(AF_INET, SOCK_DGRAM, 0);
  ::close(closed);
  send_batch b;
  for (int i = 0; i < 5; ++i) b.push(closed, to.address, span(payload(i, 40)));
  EXPECT_EQ(b.flush(), 5u);
  EXPECT_EQ(b.datagrams_sent(), 0u);
  EXPECT_TRUE(b.empty());
}

TEST(SendBatch, ConnectedSocketSendsWithoutAnAddressAndGetsPastAPendingIcmpError) {
  auto to = std::make_unique<udp>();
  const protocol::transport_address at = to->address;
  udp from;
  sockaddr_storage sa;
  const socklen_t len = to_sockaddr(at, sa);
  ASSERT_EQ(::connect(from.fd, reinterpret_cast<sockaddr*>(&sa), len), 0);
  send_batch b;
  std::vector<std::string> sent{payload(0, 100), payload(1, 100), payload(2, 100), payload(3, 7)};
  for (const auto& d : sent) b.push_connected(from.fd, span(d));
  EXPECT_EQ(b.flush(), 0u);
  EXPECT_EQ(b.send_calls(), 1u);  // the three of one size as one GSO message, then the fourth
  EXPECT_EQ(to->read_all(), sent);

  // The port closes: the next datagram draws an ICMP port unreachable, which the kernel keeps
  // on the connected socket as ECONNREFUSED for its next call. The port opens again; that call
  // is a send, and it must still deliver.
  to.reset();
  bool pending = false;  // tried again if the host's global ICMP rate limit ate the first
  for (int attempt = 0; attempt < 10 && !pending; ++attempt) {
    ASSERT_EQ(::send(from.fd, "x", 1, 0), 1);
    pollfd p{from.fd, POLLERR, 0};
    pending = ::poll(&p, 1, 200) == 1;
  }
  ASSERT_TRUE(pending);
  udp again(at.port);
  ASSERT_EQ(again.address, at);
  b.push_connected(from.fd, span(sent[0]));
  EXPECT_EQ(b.flush(), 0u);
  EXPECT_EQ(again.read_all(), std::vector<std::string>{sent[0]});
}

TEST(ReceiveBatch, ReadsSeveralDatagramsWithTheirSources) {
  udp s1, s2, to;
  for (int i = 0; i < 3; ++i) {
    const auto d = payload(i, 20);
    sockaddr_storage sa;
    const socklen_t len = to_sockaddr(to.address, sa);
    ::sendto((i == 1 ? s2 : s1).fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sa), len);
  }
  pollfd p{to.fd, POLLIN, 0};
  ::poll(&p, 1, 1000);
  receive_batch r;
  const int n = r.receive(to.fd);
  EXPECT_EQ(n, 3);
  std::vector<std::pair<protocol::transport_address, std::string>> got;
  r.for_each(n, [&](const protocol::transport_address& from, protocol::byte_span bytes) {
    got.emplace_back(from, std::string(bytes.begin(), bytes.end()));
  });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].first, s1.address);
  EXPECT_EQ(got[1].first, s2.address);
  EXPECT_EQ(got[2].second, payload(2, 20));
  EXPECT_EQ(r.receive(to.fd), 0);  // nothing left
}

TEST(ReceiveBatch, GroCoalescedRunIsSplitIntoTheDatagramsSent) {
  udp from, to;
  tune_udp_socket(to.fd, 1 << 20, 0);  // UDP GRO on
  send_batch b;
  std::vector<std::string> sent;
  for (int i = 0; i < 10; ++i) {
    sent.push_back(payload(i, 200));
    b.push(from.fd, to.address, span(sent.back()));
  }
  sent.push_back(payload(10, 120));  // a shorter last one ends the run
  b.push(from.fd, to.address, span(sent.back()));
  ASSERT_EQ(b.flush(), 0u);
  pollfd p{to.fd, POLLIN, 0};
  ::poll(&p, 1, 1000);
  receive_batch r;
  std::vector<std::string> got;
  int slots_used = 0;
  for (int round = 0; round < 4; ++round) {
    const int n = r.receive(to.fd);
    slots_used += n;
    r.for_each(n, [&](const protocol::transport_address& source, protocol::byte_span bytes) {
      EXPECT_EQ(source, from.address);
      got.emplace_back(bytes.begin(), bytes.end());
    });
  }
  EXPECT_EQ(got, sent);
  // The GSO run came through loopback as one coalesced buffer (one slot), not 11.
  EXPECT_LT(slots_used, 11);
}

TEST(Sockaddr, RoundTripsBothFamiliesAndUnmapsV4MappedAddresses) {
  for (const char* ip : {"192.0.2.7", "2001:db8::9"}) {
    const auto a = *protocol::transport_address::parse_ip(ip, 4242);
    sockaddr_storage sa;
    to_sockaddr(a, sa);
    EXPECT_EQ(from_sockaddr(sa), a);
  }
  sockaddr_storage sa{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&sa);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(9);
  const std::uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 1};
  std::memcpy(&in6->sin6_addr, mapped, 16);
  EXPECT_EQ(from_sockaddr(sa), *protocol::transport_address::parse_ip("198.51.100.1", 9));
}

}  // namespace
}  // namespace turnpike::server::net
