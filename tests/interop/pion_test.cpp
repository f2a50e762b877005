// SPDX-License-Identifier: Apache-2.0
// pion/turn's client (Debian's golang-github-pion-turn.v2-dev; tests/interop/pion/) through
// the real binary over UDP: it allocates, creates a permission, binds a channel of its own
// accord and echoes 1000-byte messages through a peer, every one of them back. (That its data
// travels as ChannelData once bound is shown by the kernel relay's test of it, where only
// ChannelData is relayed in the kernel: kernel_relay_clients_test.cpp.)
#include <gtest/gtest.h>

#include "support/pion.hpp"
#include "support/process.hpp"

namespace turnpike::test {
namespace {

TEST(PionTest, AllocatesBindsAChannelAndEchoesEveryMessage) {
  ASSERT_EQ(pion_missing(), "");
  process server({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-u", "u:p", "-r", "test",
                  "--allow-loopback-peers", "--relay-threads", "1", "--no-tls", "--no-dtls"});
  const auto port = server.wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(port) << server.output();
  ASSERT_TRUE(server.wait_for(std::regex("iceServers"))) << server.output();
  const auto r = run_pion("127.0.0.1:" + (*port)[1].str(), 200, 1000);
  EXPECT_EQ(r.exit, 0) << r.output;
  EXPECT_EQ(r.sent, 200) << r.output;
  EXPECT_EQ(r.received, 200) << r.output;
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
  // Every message relayed both ways, once.
  EXPECT_TRUE(server.wait_for(std::regex(R"(to_peer=200/200000B to_client=200/200000B)"),
                              std::chrono::seconds(1)))
      << server.output();
}

}  // namespace
}  // namespace turnpike::test
