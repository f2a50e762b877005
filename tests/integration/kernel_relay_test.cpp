// SPDX-License-Identifier: Apache-2.0
// kernel-relay against the real binary on loopback (XDP in generic mode on lo): ChannelData
// both ways relayed by the kernel (the server's own packet count stays at its STUN messages,
// the kernel's counters match what was sent), and the kernel stops at once when the channel
// expires (client data dropped, the peer's data back in a Data indication from user space),
// when the permission expires and when the allocation is deleted; a peer without a
// permission never gets through. Needs root (CAP_BPF and CAP_NET_ADMIN); skipped without.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "protocol/channel_data.hpp"
#include "support/process.hpp"
#include "support/sinks.hpp"
#include "support/turn_session.hpp"
#include "support/uclient.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

class KernelRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "kernel-relay needs CAP_BPF and CAP_NET_ADMIN";
  }
  // A server with kernel-relay and the given lifetimes (seconds).
  void start(int channel_lifetime, int permission_lifetime) {
    server_ =
        std::make_unique<process>(std::vector<std::string>{TURNPIKE_BINARY,
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
                                                           "1",
                                                           "--kernel-relay",
                                                           "--channel-lifetime",
                                                           std::to_string(channel_lifetime),
                                                           "--permission-lifetime",
                                                           std::to_string(permission_lifetime),
                                                           "--no-tls",
                                                           "--no-dtls"});
    const auto port = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(port) << server_->output();
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
    port_ = static_cast<std::uint16_t>(std::stoi((*port)[1]));
  }
  // Stops the server and returns its totals: user-space packets and kernel-relayed packets
  // each way.
  std::array<std::uint64_t, 3> stop() {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    const auto line = server_->wait_for(
        std::regex(R"(stopped: packets=(\d+) .* kernel_relayed=(\d+)/(\d+))"), 1s);
    EXPECT_TRUE(line) << server_->output();
    if (!line) return {};
    return {std::stoull((*line)[1]), std::stoull((*line)[2]), std::stoull((*line)[3])};
  }
  protocol::transport_address server() const {
    return *protocol::transport_address::parse_ip("127.0.0.1", port_);
  }
  static void send_from(const udp_sink& peer, const protocol::transport_address& to,
                        const bytes& data) {
    socklen_t len = 0;
    const auto ss = to_sockaddr(to, len);
    ASSERT_EQ(::sendto(peer.fd(), data.data(), data.size(), 0,
                       reinterpret_cast<const sockaddr*>(&ss), len),
              static_cast<ssize_t>(data.size()));
  }
  static bytes channel_data(std::uint16_t channel, const bytes& data) {
    bytes out(4 + data.size());
    protocol::write_channel_data(out, channel, data, false);
    return out;
  }
  // What the client receives within the wait: ChannelData frames and anything else apart.
  static std::pair<std::vector<bytes>, int> client_receives(turn_session& s, int wait_ms = 300) {
    std::vector<bytes> frames;
    int other = 0;
    while (auto got = s.client().receive(wait_ms)) {
      if (protocol::looks_like_channel_data(*got)) {
        frames.push_back(*got);
      } else {
        ++other;
      }
    }
    return {frames, other};
  }

  std::unique_ptr<process> server_;
  std::uint16_t port_ = 0;
};

TEST_F(KernelRelayTest, BoundChannelsAreRelayedByTheKernelBothWaysUntilTheChannelExpires) {
  start(3, 300);
  udp_sink peer;
  turn_session s(SOCK_DGRAM, server(), "u", "p");
  const auto allocated = s.allocate();
  ASSERT_EQ(allocated.code, 0);
  const auto relayed = relayed_of(allocated);
  constexpr int rounds = 50;
  for (int i = 0; i < rounds; ++i) {
    // Bound, and the binding refreshed every ten rounds: a busy machine never outlasts it.
    if (i % 10 == 0) {
      ASSERT_EQ(s.channel_bind(0x4000, peer.address()).code, 0);
    }
    const bytes data(1000, static_cast<std::uint8_t>(i));
    s.client().send_raw(channel_data(0x4000, data));
    const auto at_peer = peer.next();
    ASSERT_TRUE(at_peer) << i;
    EXPECT_EQ(*at_peer, data);
    send_from(peer, relayed, data);
    const auto back = s.client().receive(1000);
    ASSERT_TRUE(back) << i;
    EXPECT_EQ(*back, channel_data(0x4000, data));
  }
  // The channel expires 3 s after its last refresh: client data is dropped at once, and the
  // peer's comes back from user space in a Data indication (the permission lives on).
  ASSERT_EQ(s.channel_bind(0x4000, peer.address()).code, 0);
  const auto bound_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_until(bound_at + 3s + 200ms);
  s.client().send_raw(channel_data(0x4000, bytes(100, 7)));
  EXPECT_TRUE(peer.received(500ms).empty());
  send_from(peer, relayed, bytes(100, 8));
  const auto [frames, indications] = client_receives(s);
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(indications, 1);
  const auto [packets, to_peer, to_client] = stop();
  EXPECT_EQ(to_peer, static_cast<std::uint64_t>(rounds));
  EXPECT_EQ(to_client, static_cast<std::uint64_t>(rounds));
  // User space saw the STUN exchange and the two datagrams after expiry, none of the rest.
  EXPECT_LT(packets, 20u);
}

// coturn's client over channels with 1000-byte messages, its echo peer behind the relay:
// nothing lost, and the kernel carried every message both ways.
TEST_F(KernelRelayTest, UclientOverChannelsLosesNothingAndTheKernelCarriedIt) {
  start(600, 300);
  const std::uint16_t peer_port = free_port();
  process peer({"turnutils_peer", "-L", "127.0.0.1", "-p", std::to_string(peer_port)});
  const auto r =
      run_uclient({"-u", "u", "-w", "p", "-p", std::to_string(port_), "-e", "127.0.0.1", "-r",
                   std::to_string(peer_port), "-n", "100", "-m", "4", "-l", "1000", "127.0.0.1"});
  EXPECT_EQ(r.sent, 400) << r.output;
  EXPECT_EQ(r.received, 400) << r.output;
  EXPECT_TRUE(r.zero_loss) << r.output;
  const auto [packets, to_peer, to_client] = stop();
  EXPECT_EQ(to_peer, 400u);
  EXPECT_EQ(to_client, 400u);
  EXPECT_LT(packets, 100u) << "user space saw the relayed data";
}

TEST_F(KernelRelayTest, PermissionExpiryAndDeletionStopTheKernelAndStrangersNeverGetThrough) {
  start(300, 3);
  udp_sink peer;
  udp_sink stranger("127.0.0.5");
  turn_session s(SOCK_DGRAM, server(), "u", "p");
  const auto allocated = s.allocate();
  ASSERT_EQ(allocated.code, 0);
  const auto relayed = relayed_of(allocated);
  ASSERT_EQ(s.channel_bind(0x4001, peer.address()).code, 0);
  const auto bound_at = std::chrono::steady_clock::now();
  s.client().send_raw(channel_data(0x4001, bytes(200, 1)));
  EXPECT_TRUE(peer.next());
  // A peer without a permission: nothing reaches the client.
  send_from(stranger, relayed, bytes(200, 2));
  {
    const auto [frames, other] = client_receives(s);
    EXPECT_TRUE(frames.empty());
    EXPECT_EQ(other, 0);
  }
  // The permission expires 3 s after the binding: nothing passes either way.
  std::this_thread::sleep_until(bound_at + 3s + 200ms);
  s.client().send_raw(channel_data(0x4001, bytes(200, 3)));
  EXPECT_TRUE(peer.received(500ms).empty());
  send_from(peer, relayed, bytes(200, 4));
  const auto [frames, other] = client_receives(s);
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(other, 0);

  // A fresh binding relays again; deleting the allocation stops it.
  ASSERT_EQ(s.channel_bind(0x4001, peer.address()).code, 0);
  send_from(peer, relayed, bytes(200, 5));
  EXPECT_EQ(client_receives(s).first.size(), 1u);
  ASSERT_EQ(s.remove().code, 0);
  send_from(peer, relayed, bytes(200, 6));
  s.client().send_raw(channel_data(0x4001, bytes(200, 7)));
  EXPECT_TRUE(peer.received(500ms).empty());
  EXPECT_TRUE(client_receives(s).first.empty());
  const auto [packets, to_peer, to_client] = stop();
  EXPECT_EQ(to_peer, 1u);
  EXPECT_EQ(to_client, 1u);
  (void)packets;
}

}  // namespace
}  // namespace turnpike::test
