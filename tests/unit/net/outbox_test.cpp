// SPDX-License-Identifier: Apache-2.0
// The outbox on loopback sockets: inside a scope datagrams wait for the last scope to close,
// outside one they leave at once, and a datagram that cannot leave is counted.
#include "server/net/outbox.hpp"

#include <gtest/gtest.h>

#include "support/loopback_udp.hpp"

namespace turnpike::server::net {
namespace {

protocol::byte_span span(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Outbox, DatagramsInAScopeLeaveWhenTheOutermostScopeCloses) {
  test::loopback_udp from, to;
  outbox out;
  {
    const outbox::scope outer(out);
    {
      const outbox::scope inner(out);
      EXPECT_TRUE(out.send(from.fd, to.address, span("one")));
    }
    EXPECT_TRUE(to.read_all(50).empty());  // still queued: the outer scope is open
    out.send_connected(-1, span("nowhere"));
  }
  EXPECT_EQ(to.read_all(), std::vector<std::string>{"one"});
  EXPECT_EQ(out.failures(), 1u);  // the connected send to a bad descriptor
  EXPECT_TRUE(out.send(from.fd, to.address, span("two")));  // no scope: at once
  EXPECT_EQ(to.read_all(), std::vector<std::string>{"two"});
  EXPECT_FALSE(out.send(-1, to.address, span("lost")));
  out.count_failure();
  EXPECT_EQ(out.failures(), 3u);
}

}  // namespace
}  // namespace turnpike::server::net
