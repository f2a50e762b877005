// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics scraped from the real binary while turnutils_uclient relays through it
// (not after): allocations, channels and relayed packets move with what is sent; answers by
// method and code, auth failures, histograms, process metrics; liveness and readiness.
#include <gtest/gtest.h>

#include <thread>

#include "support/http.hpp"
#include "support/process.hpp"
#include "support/stun_client.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    peer_port_ = std::to_string(free_port());
    peer_ = std::make_unique<process>(
        std::vector<std::string>{"turnutils_peer", "-L", "127.0.0.1", "-p", peer_port_});
    server_ = std::make_unique<process>(std::vector<std::string>{
        TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-r", "test", "-u", "u:p",
        "--allow-loopback-peers", "--relay-threads", "2", "--prometheus", "--prometheus-address",
        "127.0.0.1", "--prometheus-port", "0"});
    auto udp = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    auto metrics = server_->wait_for(std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)"));
    ASSERT_TRUE(udp && metrics) << server_->output();
    port_ = (*udp)[1];
    metrics_port_ = static_cast<std::uint16_t>(std::stoi((*metrics)[1]));
  }
  void TearDown() override {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
  }
  std::string scrape() {
    const auto a = http_get(metrics_port_, "/metrics");
    EXPECT_EQ(a.status, 200);
    return a.body;
  }

  std::unique_ptr<process> peer_, server_;
  std::string port_, peer_port_;
  std::uint16_t metrics_port_ = 0;
};

TEST_F(MetricsTest, CountersMoveDuringRelaying) {
  const std::string before = scrape();
  EXPECT_EQ(metric_value(before, R"(turnpike_allocations{family="ipv4",transport="udp"})"), 0);
  EXPECT_EQ(metric_value(before, "turnpike_shards_answering"), 2);
  // uclient: one client pair, 300 messages 20 ms apart (about 6 s of sending after its
  // set-up, which takes a while under sanitizers), on channels.
  process client({"turnutils_uclient", "-u", "u", "-w", "p", "-e", "127.0.0.1", "-r", peer_port_,
                  "-n", "300", "-m", "1", "-z", "20", "-p", port_, "127.0.0.1"});
  // During the run: allocations and channels exist, packets are moving.
  double during_packets = 0;
  double during_allocations = 0;
  double during_channels = 0;
  std::string during;
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while ((during_allocations <= 0 || during_packets <= 0) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(100ms);
    const std::string now = scrape();
    during = now;
    during_allocations =
        metric_value(now, R"(turnpike_allocations{family="ipv4",transport="udp"})");
    during_channels = metric_value(now, "turnpike_channels");
    during_packets =
        metric_value(now, R"(turnpike_relayed_packets_total{direction="to_peer",transport="udp"})");
  }
  EXPECT_GE(during_allocations, 2);  // uclient -m 1 is a client pair
  // Per shard, from the same snapshot as the totals: the allocations add up.
  const auto on_shard = [](const std::string& text, const char* name, int shard) {
    return metric_value(text, std::string(name) + "{shard=\"" + std::to_string(shard) + "\"}");
  };
  EXPECT_EQ(on_shard(during, "turnpike_shard_allocations", 0) +
                on_shard(during, "turnpike_shard_allocations", 1),
            during_allocations);
  EXPECT_GE(during_channels, 1);
  EXPECT_GT(during_packets, 0);
  ASSERT_EQ(client.wait_exit(60s), 0) << client.output();
  ASSERT_NE(client.output().find("Total lost packets 0 (0.000000%)"), std::string::npos)
      << client.output();
  const std::string after = scrape();
  const double to_peer =
      metric_value(after, R"(turnpike_relayed_packets_total{direction="to_peer",transport="udp"})");
  const double to_client = metric_value(
      after, R"(turnpike_relayed_packets_total{direction="to_client",transport="udp"})");
  EXPECT_GE(to_peer, 600);  // 300 messages from each of the two clients
  EXPECT_GE(to_client, 600);
  EXPECT_GT(to_peer, during_packets);
  EXPECT_GE(
      metric_value(after, R"(turnpike_relayed_bytes_total{direction="to_peer",transport="udp"})"),
      600 * 100);  // 100-byte messages
  EXPECT_GE(metric_value(after, "turnpike_allocations_created_total"), 2);
  EXPECT_GE(metric_value(after, R"(turnpike_responses_total{code="200",method="allocate"})"), 2);
  EXPECT_GE(metric_value(after, R"(turnpike_responses_total{code="401",method="allocate"})"), 2);
  EXPECT_GE(metric_value(after, R"(turnpike_auth_failures_total{reason="challenge"})"), 2);
  EXPECT_GE(metric_value(after, R"(turnpike_responses_total{code="200",method="channel_bind"})"),
            1);
  EXPECT_GT(metric_value(after, "turnpike_request_handling_seconds_count"), 0);
  EXPECT_GT(metric_value(after, "process_resident_memory_bytes"), 0);
  EXPECT_GT(metric_value(after, "process_open_fds"), 0);
  // Every shard's thread has run, and the client packets add up over the shards.
  EXPECT_GT(on_shard(after, "turnpike_shard_cpu_seconds_total", 0), 0);
  EXPECT_GT(on_shard(after, "turnpike_shard_cpu_seconds_total", 1), 0);
  EXPECT_EQ(on_shard(after, "turnpike_shard_received_packets_total", 0) +
                on_shard(after, "turnpike_shard_received_packets_total", 1),
            metric_value(after, "turnpike_received_packets_total"));
  EXPECT_EQ(metric_value(after, R"(turnpike_build_info{version=")" TURNPIKE_VERSION R"("})"), 1);
  // A wrong password and a Binding show up under their own labels.
  stun_client c(SOCK_DGRAM, *protocol::transport_address::parse_ip(
                                "127.0.0.1", static_cast<std::uint16_t>(std::stoi(port_))));
  EXPECT_EQ(c.allocate("u", "wrong"), 401);
  ASSERT_TRUE(c.binding());
  const std::string last = scrape();
  EXPECT_EQ(metric_value(last, R"(turnpike_auth_failures_total{reason="bad_credentials"})"), 1);
  EXPECT_GE(metric_value(last, "turnpike_binding_requests_total"), 1);
}

TEST_F(MetricsTest, HealthReadinessAndUnknownPaths) {
  EXPECT_EQ(http_get(metrics_port_, "/").status, 200);
  const auto ready = http_get(metrics_port_, "/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  EXPECT_EQ(http_get(metrics_port_, "/nothing").status, 404);
}

// SIGUSR1: new Allocates get 508, readiness fails, while a session that was running keeps
// relaying with zero loss and an existing allocation can still be refreshed.
TEST_F(MetricsTest, DrainRefusesNewAllocationsWhileExistingOnesRelay) {
  const auto server = *protocol::transport_address::parse_ip(
      "127.0.0.1", static_cast<std::uint16_t>(std::stoi(port_)));
  stun_client before(SOCK_DGRAM, server);
  ASSERT_EQ(before.allocate("u", "p"), 0);
  process client({"turnutils_uclient", "-u", "u", "-w", "p", "-e", "127.0.0.1", "-r", peer_port_,
                  "-n", "200", "-m", "1", "-z", "20", "-p", port_, "127.0.0.1"});
  std::this_thread::sleep_for(1s);
  server_->signal(SIGUSR1);
  ASSERT_TRUE(server_->wait_for(std::regex("draining \\(SIGUSR1\\)"), 5s)) << server_->output();
  stun_client after(SOCK_DGRAM, server);
  EXPECT_EQ(after.allocate("u", "p"), 508);
  EXPECT_EQ(http_get(metrics_port_, "/ready").status, 503);
  EXPECT_EQ(metric_value(scrape(), "turnpike_draining"), 1);
  EXPECT_EQ(before.refresh(1200), 0);
  ASSERT_EQ(client.wait_exit(60s), 0) << client.output();
  EXPECT_NE(client.output().find("Total lost packets 0 (0.000000%)"), std::string::npos)
      << client.output();
  EXPECT_NE(client.output().find("tot_send_msgs=400, tot_recv_msgs=400"), std::string::npos)
      << client.output();
}

// SIGTERM with drain-grace: the process stays while an allocation exists, offers the
// alternate server to new clients (300), and stops as soon as the last allocation ends.
TEST(Drain, SigtermWaitsForAllocationsWithinTheGrace) {
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-r", "test", "-u", "u:p",
             "--drain-grace", "30", "--drain-alternate-server", "192.0.2.1:3478", "--relay-threads",
             "2"});
  auto udp = s.wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(udp) << s.output();
  const auto server = *protocol::transport_address::parse_ip(
      "127.0.0.1", static_cast<std::uint16_t>(std::stoi((*udp)[1])));
  stun_client held(SOCK_DGRAM, server);
  ASSERT_EQ(held.allocate("u", "p"), 0);
  s.signal(SIGTERM);
  ASSERT_TRUE(s.wait_for(std::regex("stopping once allocations end"), 5s)) << s.output();
  stun_client late(SOCK_DGRAM, server);
  EXPECT_EQ(late.allocate("u", "p"), 300);
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(s.wait_exit(100ms)) << s.output();  // still running: an allocation is left
  EXPECT_EQ(held.refresh(0), 0);
  EXPECT_EQ(s.wait_exit(10s), 0) << s.output();  // well before the 30 s grace
  EXPECT_NE(s.output().find("drained: 0 relayed addresses left"), std::string::npos) << s.output();
}

}  // namespace
}  // namespace turnpike::test
