// SPDX-License-Identifier: Apache-2.0
// shard-packing against the real binary (root only: it attaches an sk_lookup BPF program), in
// a network namespace of the test's own, with two shards: at light load every allocation
// lands on one shard (the kernel's hash alone would put 40 clients on one of two shards once
// in 2^39); when the load opens the second shard, new allocations spread over both, and the
// ones made before keep relaying from their shard (their clients stay pinned to it); when the
// load goes, new clients pack onto one shard again. The capabilities the set-up needed are
// gone from every thread afterwards. DTLS on the UDP listeners stops start-up with the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <thread>

#include "support/certs.hpp"
#include "support/http.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"
#include "support/turn_session.hpp"

namespace turnpike::test {
namespace {

namespace p = turnpike::protocol;
using namespace std::chrono_literals;

p::transport_address loopback(std::uint16_t port) {
  return *p::transport_address::parse_ip("127.0.0.1", port);
}

class ShardPackingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "shard-packing needs root (BPF)";
    netns_ = std::make_unique<private_netns>();
    peer_port_ = free_port();
    peer_ = std::make_unique<process>(std::vector<std::string>{"turnutils_peer", "-L", "127.0.0.1",
                                                               "-p", std::to_string(peer_port_)});
  }
  void TearDown() override {
    if (server_) {
      server_->signal(SIGTERM);
      EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    }
    server_.reset();
    peer_.reset();
    netns_.reset();
  }

  // Starts the server with shard-packing at `rate` datagrams/s per shard.
  void start(unsigned rate) {
    server_ =
        std::make_unique<process>(std::vector<std::string>{TURNPIKE_BINARY,
                                                           "-n",
                                                           "-L",
                                                           "127.0.0.1",
                                                           "-p",
                                                           "0",
                                                           "--relay-threads",
                                                           "2",
                                                           "-r",
                                                           "pack.test",
                                                           "--lt-cred-mech",
                                                           "-u",
                                                           "u:p",
                                                           "--allow-loopback-peers",
                                                           "--no-rfc5780",
                                                           "--no-dtls",
                                                           "--no-tls",
                                                           "--min-port",
                                                           std::to_string(private_netns::relay_min),
                                                           "--max-port",
                                                           "65535",
                                                           "--shard-packing",
                                                           std::to_string(rate),
                                                           "--prometheus",
                                                           "--prometheus-address",
                                                           "127.0.0.1",
                                                           "--prometheus-port",
                                                           "0"});
    const auto udp = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    const auto metrics =
        server_->wait_for(std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)"));
    ASSERT_TRUE(udp && metrics) << server_->output();
    port_ = static_cast<std::uint16_t>(std::stoi((*udp)[1]));
    metrics_port_ = static_cast<std::uint16_t>(std::stoi((*metrics)[1]));
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
  }

  double allocations_on(int shard) {
    const auto a = http_get(metrics_port_, "/metrics");
    EXPECT_EQ(a.status, 200);
    return metric_value(a.body,
                        "turnpike_shard_allocations{shard=\"" + std::to_string(shard) + "\"}");
  }

  // `n` more allocations, each with a permission for the echoing peer.
  void allocate(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      sessions_.push_back(std::make_unique<turn_session>(SOCK_DGRAM, loopback(port_), "u", "p"));
      // The first session's nonce for all (unauthenticated answers are rate-limited per IP).
      if (sessions_.size() > 1) {
        sessions_.back()->set_nonce(sessions_[0]->nonce(), sessions_[0]->realm());
      }
      ASSERT_EQ(sessions_.back()->allocate().code, 0) << sessions_.size();
      ASSERT_EQ(sessions_.back()->create_permission(loopback(peer_port_)).code, 0);
    }
  }

  bool echoes(turn_session& s) { return echoed(s, loopback(peer_port_)); }

  std::unique_ptr<private_netns> netns_;
  std::unique_ptr<process> peer_;
  std::unique_ptr<process> server_;
  std::vector<std::unique_ptr<turn_session>> sessions_;
  std::uint16_t port_ = 0;
  std::uint16_t peer_port_ = 0;
  std::uint16_t metrics_port_ = 0;
};

TEST_F(ShardPackingTest, LightLoadPutsEveryAllocationOnOneShard) {
  start(100000);
  allocate(40);
  EXPECT_EQ(allocations_on(0), 40);
  EXPECT_EQ(allocations_on(1), 0);
  for (std::size_t i = 0; i < sessions_.size(); ++i) EXPECT_TRUE(echoes(*sessions_[i])) << i;
  for (auto& s : sessions_) EXPECT_EQ(s->remove().code, 0);
  EXPECT_EQ(allocations_on(0), 0);
}

TEST_F(ShardPackingTest, CapabilitiesAreDroppedInEveryThreadAndPinningGoesOn) {
  start(100000);
  ASSERT_TRUE(server_->wait_for(std::regex("shard-packing: CAP_BPF and CAP_NET_ADMIN dropped")))
      << server_->output();
  // CAP_NET_ADMIN 12, CAP_BPF 39.
  const auto left = capabilities_of(server_->pid(), (1ull << 12) | (1ull << 39));
  EXPECT_EQ(left.held, 0u);
  EXPECT_GE(left.threads, 4u);  // main, two shards, the governor
  // Pins are still written (a map update without the capabilities): all on one shard.
  allocate(20);
  EXPECT_EQ(allocations_on(0), 20);
  for (auto& s : sessions_) EXPECT_TRUE(echoes(*s));
}

TEST_F(ShardPackingTest, LoadOpensTheSecondShardAndPinnedClientsStay) {
  start(200);
  allocate(10);
  ASSERT_EQ(allocations_on(0), 10);
  // About 600 datagrams a second from a client of its own, three times the rate, until the
  // governor (once a second) lets new clients onto both shards, or for 10 s.
  const std::size_t mark = server_->line_count();
  std::atomic<bool> stop{false};
  std::thread flood([&] {
    stun_client c(SOCK_DGRAM, loopback(port_));
    for (int i = 0; i < 6000 && !stop; ++i) {
      c.send_raw(stun_client::binding_request());
      std::this_thread::sleep_for(1500us);
    }
  });
  const auto opened = server_->wait_for(std::regex("new clients go to 2 of 2 shard"), 10s, mark);
  stop = true;
  flood.join();
  ASSERT_TRUE(opened) << server_->output();
  // New clients now go where the kernel's hash puts them: 40 all on one of two shards would
  // happen once in 2^39.
  allocate(40);
  EXPECT_GT(allocations_on(1), 0);
  EXPECT_EQ(allocations_on(0) + allocations_on(1), 50);
  // The first ten, pinned to shard 0, still reach their allocations (half of them would hash
  // to shard 1, which does not know them).
  for (std::size_t i = 0; i < 10; ++i) EXPECT_TRUE(echoes(*sessions_[i])) << i;
  for (std::size_t i = 10; i < sessions_.size(); ++i) EXPECT_TRUE(echoes(*sessions_[i])) << i;
  // The flood stopped: within a few seconds new clients pack onto one shard again.
  EXPECT_TRUE(
      server_->wait_for(std::regex("new clients go to 1 of 2 shard"), 10s, server_->line_count()))
      << server_->output();
  for (auto& s : sessions_) EXPECT_EQ(s->remove().code, 0);
  EXPECT_EQ(allocations_on(0) + allocations_on(1), 0);
}

// Checked before anything is loaded: no root needed.
TEST(ShardPackingConfig, DtlsOnTheUdpListenersStopsStartUp) {
  const test_certificate c = make_test_certificate();
  process server({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--relay-threads", "2",
                  "--cert", c.cert, "--pkey", c.key, "--shard-packing", "1000"});
  EXPECT_NE(server.wait_exit(), 0);
  EXPECT_NE(server.output().find("shard-packing does not pin DTLS sessions"), std::string::npos)
      << server.output();
  std::filesystem::remove_all(std::filesystem::path(c.cert).parent_path());
}

}  // namespace
}  // namespace turnpike::test
