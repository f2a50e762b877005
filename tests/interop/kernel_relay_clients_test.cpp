// SPDX-License-Identifier: Apache-2.0
// Real clients through kernel-relay (at TC ingress on loopback: XDP leaves datagrams of local
// senders to user space, kernel_relay.bpf.c says why), and proof that the kernel carried
// their data: pion/turn's client echoing 1000-byte messages
// through a peer, and headless Chromium making a relay-only data channel call between two
// peer connections, whose relayed addresses are both this server's (so each datagram is
// relayed client to client in one pass). User space sees the STUN exchange and what went
// before a channel was bound; the kernel's counters (folded into the relayed totals) carry
// the rest. Needs root (CAP_BPF and CAP_NET_ADMIN); each test in a network namespace of its
// own (support/netns.hpp), where Chromium runs too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>

#include "support/browser.hpp"
#include "support/netns.hpp"
#include "support/pion.hpp"
#include "support/process.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

// What the server's stop line says it relayed: all of it (user space and kernel), and the
// kernel's share, in packets.
struct relayed_totals {
  std::uint64_t to_peer = 0;
  std::uint64_t to_client = 0;
  std::uint64_t kernel_to_peer = 0;
  std::uint64_t kernel_to_client = 0;
};

class KernelRelayClients : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "kernel-relay needs CAP_BPF and CAP_NET_ADMIN";
    netns_.emplace();
    // Chromium gathers candidates only on an interface other than loopback: a veth pair of
    // the namespace's own gives it one (10.200.0.1; its datagrams to the server's 127.0.0.1
    // go over loopback all the same).
    process link({"sh", "-c",
                  "ip link add tpkc0 type veth peer name tpkc1 && "
                  "ip addr add 10.200.0.1/24 dev tpkc0 && ip link set tpkc0 up && "
                  "ip link set tpkc1 up"});
    ASSERT_EQ(link.wait_exit(), 0) << link.output();
    std::vector<std::string> argv{TURNPIKE_BINARY,
                                  "-n",
                                  "-L",
                                  "127.0.0.1",
                                  "-p",
                                  "0",
                                  "-u",
                                  "u:p",
                                  "-r",
                                  "test",
                                  "--allow-loopback-peers",
                                  "--relay-threads",
                                  "2",
                                  "--kernel-relay",
                                  "--kernel-relay-mode",
                                  "tc",
                                  "--no-tls",
                                  "--no-dtls"};
    server_ = std::make_unique<process>(argv);
    const auto port = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(port) << server_->output();
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
    port_ = (*port)[1];
  }
  void TearDown() override {
    server_.reset();
    netns_.reset();
  }
  relayed_totals stop() {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    const auto line = server_->wait_for(
        std::regex(R"(to_peer=(\d+)/\d+B to_client=(\d+)/\d+B .* kernel_relayed=(\d+)/(\d+))"), 1s);
    EXPECT_TRUE(line) << server_->output();
    if (!line) return {};
    if (::testing::Test::HasFailure()) std::cout << server_->output();
    return {std::stoull((*line)[1]), std::stoull((*line)[2]), std::stoull((*line)[3]),
            std::stoull((*line)[4])};
  }
  std::optional<private_netns> netns_;
  std::unique_ptr<process> server_;
  std::string port_;
};

TEST_F(KernelRelayClients, PionEchoesEveryMessageAndTheKernelCarriedThemOnceBound) {
  ASSERT_EQ(pion_missing(), "");
  const auto r = run_pion("127.0.0.1:" + port_, 200, 1000);
  EXPECT_EQ(r.exit, 0) << r.output;
  EXPECT_EQ(r.received, 200) << r.output;
  const auto t = stop();
  EXPECT_EQ(t.to_peer, 200u);
  EXPECT_EQ(t.to_client, 200u);
  // pion binds its channel in the background on its first send, and sends in Send
  // indications (echoes come back in Data indications, from user space) until the binding's
  // answer is in: about 5 messages on an idle machine, 22 seen with six such tests running at
  // once. After that, ChannelData, all of it in the kernel.
  EXPECT_GE(t.kernel_to_peer, 150u);
  EXPECT_GE(t.kernel_to_client, 150u);
  EXPECT_LE(t.kernel_to_peer, 200u);
  EXPECT_LE(t.kernel_to_client, 200u);
}

TEST_F(KernelRelayClients, ChromiumRelayOnlyCallGoesClientToClientInTheKernel) {
  ASSERT_EQ(browser_missing(), "");
  process node({"node", browser_dir + "/relay_datachannel.mjs", "--url",
                "turn:127.0.0.1:" + port_ + "?transport=udp", "--messages", "300"});
  const auto rc = node.wait_exit(90s);
  const std::string out = node.output();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(R"("selected":{"local":"relay","remote":"relay")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("echoes":300)"), std::string::npos) << out;
  const auto t = stop();
  // Every datagram between the two went from one client's allocation to the other's: about
  // as many to peers as to clients (those in flight when the call closed went no further).
  // Once the channels were bound the kernel carried them (ICE checks, DTLS, SCTP and the 600
  // messages), user space what went before.
  EXPECT_LE(t.to_client, t.to_peer);
  EXPECT_GE(t.to_client + 10, t.to_peer);
  EXPECT_GE(t.kernel_to_peer, 300u);
  EXPECT_GE(t.kernel_to_peer * 10, t.to_peer * 9)
      << "kernel " << t.kernel_to_peer << " of " << t.to_peer;
  EXPECT_GE(t.kernel_to_client * 10, t.to_client * 9)
      << "kernel " << t.kernel_to_client << " of " << t.to_client;
  std::cout << "relayed to peers " << t.to_peer << " (kernel " << t.kernel_to_peer
            << "), to clients " << t.to_client << " (kernel " << t.kernel_to_client << ")\n";
}

}  // namespace
}  // namespace turnpike::test
