// SPDX-License-Identifier: Apache-2.0
// The real turnpike binary on loopback: Binding over UDP and TCP with the project's client and
// with coturn's turnutils_stunclient, RFC 5780 on two loopback addresses, bad input survived,
// bad configuration refused, graceful stop on SIGTERM and SIGINT, shard threads named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "support/process.hpp"
#include "support/stun_client.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

const std::regex udp_line(R"(listening udp 127\.0\.0\.1:(\d+))");
const std::regex tcp_line(R"(listening tcp 127\.0\.0\.1:(\d+))");

protocol::transport_address loopback(std::uint16_t port, const char* ip = "127.0.0.1") {
  return *protocol::transport_address::parse_ip(ip, port);
}

// The server on an OS-chosen port (listening-port=0), two shards.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<process>(std::vector<std::string>{
        TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--relay-threads", "2"});
    auto u = server_->wait_for(udp_line);
    ASSERT_TRUE(u) << server_->output();
    port_ = static_cast<std::uint16_t>(std::stoi((*u)[1]));
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
  }
  void TearDown() override {
    if (!server_) return;
    server_->signal(SIGTERM);
    const auto rc = server_->wait_exit();
    EXPECT_EQ(rc, 0) << server_->output();
  }
  std::unique_ptr<process> server_;
  std::uint16_t port_ = 0;
};

TEST_F(ServerTest, BindingOverUdp) {
  stun_client c(SOCK_DGRAM, loopback(port_));
  auto mapped = c.binding();
  ASSERT_TRUE(mapped);
  EXPECT_EQ(*mapped, c.local());
}

TEST_F(ServerTest, BindingOverTcpPipelinedAndByteByByte) {
  stun_client c(SOCK_STREAM, loopback(port_));
  auto mapped = c.binding();
  ASSERT_TRUE(mapped);
  EXPECT_EQ(*mapped, c.local());
  // Three requests in one write.
  bytes three;
  for (int i = 0; i < 3; ++i) {
    const bytes r = stun_client::binding_request();
    three.insert(three.end(), r.begin(), r.end());
  }
  c.send_raw(three);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.receive()) << i;
  // One request a byte at a time.
  const bytes one = stun_client::binding_request();
  for (std::uint8_t b : one) {
    c.send_raw({b});
    std::this_thread::sleep_for(1ms);
  }
  auto r = c.receive();
  ASSERT_TRUE(r);
  EXPECT_TRUE(std::equal(one.begin() + 8, one.begin() + 20, r->begin() + 8));
}

TEST_F(ServerTest, ManyClientsSpreadOverShards) {
  for (int i = 0; i < 50; ++i) {
    stun_client u(SOCK_DGRAM, loopback(port_));
    ASSERT_TRUE(u.binding()) << i;
    stun_client t(SOCK_STREAM, loopback(port_));
    ASSERT_TRUE(t.binding()) << i;
  }
}

// Each shard's thread carries its name, as top -H, perf and gdb show it.
TEST_F(ServerTest, ShardThreadsAreNamed) {
  std::multiset<std::string> names;
  const auto tasks = std::filesystem::path("/proc") / std::to_string(server_->pid()) / "task";
  for (const auto& t : std::filesystem::directory_iterator(tasks)) {
    std::ifstream comm(t.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.insert(name);
  }
  EXPECT_EQ(names.count("turnpike-s0"), 1u);
  EXPECT_EQ(names.count("turnpike-s1"), 1u);
  EXPECT_EQ(names.count("turnpike-s2"), 0u);  // --relay-threads 2
}

TEST_F(ServerTest, GarbageIsDroppedAndServerKeepsAnswering) {
  stun_client u(SOCK_DGRAM, loopback(port_));
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    bytes junk(rng() % 600);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    if (i % 3 == 0 && junk.size() >= 20) {  // STUN-shaped with a broken body
      junk[0] = 0x00;
      junk[1] = 0x01;
      junk[4] = 0x21, junk[5] = 0x12, junk[6] = 0xa4, junk[7] = 0x42;
    }
    u.send_raw(junk);
  }
  while (u.receive(200)) {
  }
  EXPECT_TRUE(u.binding());
  // Garbage on a stream closes that stream only.
  stun_client t(SOCK_STREAM, loopback(port_));
  t.send_raw(from_hex("ffffffff00000000"));
  EXPECT_TRUE(t.closed_by_peer());
  stun_client t2(SOCK_STREAM, loopback(port_));
  EXPECT_TRUE(t2.binding());
}

TEST_F(ServerTest, CoturnStunClientGetsReflexiveAddress) {
  process client({"turnutils_stunclient", "-p", std::to_string(port_), "127.0.0.1"});
  ASSERT_TRUE(client.wait_for(std::regex(R"(UDP reflexive addr: 127\.0\.0\.1:\d+)")))
      << "turnutils_stunclient (Debian package coturn) output:\n"
      << client.output();
  EXPECT_EQ(client.wait_exit(), 0);
}

TEST(ServerStop, SigintStopsGracefullyWithSummary) {
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--relay-threads", "1"});
  auto u = s.wait_for(udp_line);
  ASSERT_TRUE(u) << s.output();
  {
    stun_client c(SOCK_DGRAM, loopback(static_cast<std::uint16_t>(std::stoi((*u)[1]))));
    ASSERT_TRUE(c.binding());
  }
  s.signal(SIGINT);
  EXPECT_EQ(s.wait_exit(), 0);
  EXPECT_NE(s.output().find("stopped: packets=1 binding=1"), std::string::npos) << s.output();
}

TEST(ServerConfig, BadConfigStopsStartupNamingFileAndLine) {
  const std::string path = testing::TempDir() + "/turnpike-bad.conf";
  std::ofstream(path) << "# test\nlistening-port=3478\nlistening-ip=10.0.0.300\n";
  process s({TURNPIKE_BINARY, "-c", path});
  EXPECT_EQ(s.wait_exit(), 1);
  EXPECT_NE(s.output().find(path + ":3: listening-ip: '10.0.0.300' is not an IPv4 or IPv6 address"),
            std::string::npos)
      << s.output();
}

TEST(ServerConfig, CheckConfigPrintsEffectiveConfigAndWarnings) {
  process s({TURNPIKE_BINARY, "-n", "--check-config", "-L", "127.0.0.1", "--mobility", "--no-cli",
             "--log-format", "json"});
  EXPECT_EQ(s.wait_exit(), 0);
  const std::string out = s.output();
  EXPECT_NE(out.find("listening-ip=127.0.0.1"), std::string::npos) << out;
  EXPECT_NE(out.find("log-format=json"), std::string::npos) << out;
  EXPECT_NE(out.find("mobility: coturn option not supported by Turnpike yet"), std::string::npos)
      << out;
}

TEST(ServerConfig, JsonLogLines) {
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--log-format", "json",
             "--relay-threads", "1"});
  auto m = s.wait_for(std::regex(R"(^\{"ts":"[0-9T:.-]+Z","level":"info","msg":"listening udp)"));
  EXPECT_TRUE(m) << s.output();
  s.signal(SIGTERM);
  EXPECT_EQ(s.wait_exit(), 0);
}

TEST(ServerConfig, LogFileWithoutStdout) {
  const std::string path = testing::TempDir() + "/turnpike-test.log";
  std::remove(path.c_str());
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--relay-threads", "1",
             "--log-file", path, "--no-stdout-log"});
  auto read_log = [&] {
    std::ifstream in(path);
    return std::string{std::istreambuf_iterator<char>(in), {}};
  };
  for (int i = 0; i < 200 && read_log().find("iceServers") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  s.signal(SIGTERM);
  EXPECT_EQ(s.wait_exit(), 0);
  EXPECT_EQ(s.output().find("listening udp"), std::string::npos) << s.output();
  const std::string text = read_log();
  EXPECT_NE(text.find("info listening udp 127.0.0.1:"), std::string::npos) << text;
  EXPECT_NE(text.find("stopped: packets=0"), std::string::npos) << text;
}

TEST(ServerConfig, EmbeddedDemoPrintsCredentialsAndIceServers) {
  // (the demo's signaling port 8088 moved to a free one: tests never use fixed ports)
  process s({TURNPIKE_BINARY, "-p", "0", "--relay-threads", "1", "--signaling-port", "0"});
  auto demo = s.wait_for(
      std::regex(R"re(demo call: open http://127\.0\.0\.1:(\d+)/\?room=demo#key=(\w+))re"));
  ASSERT_TRUE(demo) << s.output();
  auto line = s.wait_for(std::regex(R"re(iceServers: (.*))re"));
  ASSERT_TRUE(line) << s.output();
  auto pw = s.wait_for(std::regex(R"re(user 'demo', password '(\w+)')re"));
  ASSERT_TRUE(pw) << s.output();
  const std::string json = (*line)[1];
  EXPECT_NE(json.find(R"re("stun:127.0.0.1:)re"), std::string::npos) << json;
  EXPECT_NE(json.find("?transport=udp"), std::string::npos) << json;
  EXPECT_NE(json.find("?transport=tcp"), std::string::npos) << json;
  EXPECT_NE(json.find(R"re("username":"demo","credential":")re" + (*pw)[1].str() + "\""),
            std::string::npos)
      << json;
  EXPECT_NE(s.output().find("configuration from <embedded default>"), std::string::npos);
  s.signal(SIGTERM);
  EXPECT_EQ(s.wait_exit(), 0);
}

TEST(ServerConfig, PortInUseIsAClearError) {
  stun_client blocker(SOCK_DGRAM, loopback(9));  // any local UDP socket; we need its port
  const auto taken = blocker.local();
  process s(
      {TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", std::to_string(taken.port), "--no-tcp"});
  EXPECT_EQ(s.wait_exit(), 1);
  EXPECT_NE(s.output().find("cannot listen"), std::string::npos) << s.output();
}

TEST(ServerStreams, SilentAndTricklingClientsAreClosedOnTime) {
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--relay-threads", "1",
             "--stream-frame-timeout", "2", "--stream-idle-timeout", "4",
             "--max-connections-per-ip", "8"});
  auto m = s.wait_for(std::regex(R"(listening tcp 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(m) << s.output();
  const auto server = loopback(static_cast<std::uint16_t>(std::stoi((*m)[1])));
  const auto well_behaved_ip = loopback(0, "127.0.0.2");
  ASSERT_TRUE(s.wait_for(std::regex("iceServers")));

  // 20 silent connections from 127.0.0.1: 8 admitted, 12 closed at once.
  std::vector<std::unique_ptr<stun_client>> silent;
  for (int i = 0; i < 20; ++i) silent.push_back(std::make_unique<stun_client>(SOCK_STREAM, server));
  int refused = 0;
  for (auto& c : silent) refused += c->closed_by_peer(300) ? 1 : 0;
  EXPECT_EQ(refused, 12);
  // A trickler: one byte of a Binding request every 500 ms; the frame never completes in time.
  stun_client trickler(SOCK_STREAM, server, well_behaved_ip);
  const bytes req = stun_client::binding_request();
  const auto start = std::chrono::steady_clock::now();
  bool trickler_closed = false;
  for (std::size_t i = 0; i < req.size() && !trickler_closed; ++i) {
    try {
      trickler.send_raw({req[i]});
    } catch (const std::exception&) {
      trickler_closed = true;
      break;
    }
    trickler_closed = trickler.closed_by_peer(500);
    // Meanwhile a well-behaved client is answered.
    stun_client good(SOCK_STREAM, server, well_behaved_ip);
    ASSERT_TRUE(good.binding()) << i;
  }
  EXPECT_TRUE(trickler_closed);
  const auto trickle_time = std::chrono::steady_clock::now() - start;
  EXPECT_GE(trickle_time, 1500ms);
  EXPECT_LE(trickle_time, 5000ms);
  // The admitted silent ones go after the idle timeout.
  int closed = 0;
  for (auto& c : silent) closed += c->closed_by_peer(6000) ? 1 : 0;
  EXPECT_EQ(closed, 20);
  s.signal(SIGTERM);
  EXPECT_EQ(s.wait_exit(), 0);
  EXPECT_NE(s.output().find("streams_refused=12"), std::string::npos) << s.output();
}

// Finds a port P with P and P+1 free for UDP and TCP on both loopback addresses, below both
// the relay range (49152+) and the kernel's ephemeral range (32768+) so nothing races for it.
std::uint16_t free_port_pair() {
  std::mt19937 rng{std::random_device{}()};
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto p = static_cast<std::uint16_t>(20000 + rng() % 12000);
    bool ok = true;
    std::vector<int> fds;
    for (const char* ip : {"127.0.0.1", "127.0.0.2"}) {
      for (std::uint16_t port : {p, static_cast<std::uint16_t>(p + 1)}) {
        for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
          const int fd = socket(AF_INET, type, 0);
          fds.push_back(fd);
          socklen_t len = 0;
          const auto ss = to_sockaddr(loopback(port, ip), len);
          ok = ok && bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0;
        }
      }
    }
    for (int fd : fds) close(fd);
    if (ok) return p;
  }
  throw std::runtime_error("no free port pair");
}

TEST(ServerRfc5780, BehaviourDiscoveryOnTwoLoopbackAddresses) {
  const std::uint16_t port = free_port_pair();
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-L", "127.0.0.2", "-p",
             std::to_string(port), "--relay-threads", "2"});
  ASSERT_TRUE(s.wait_for(std::regex("RFC 5780 NAT behaviour discovery is on"))) << s.output();
  process client({"turnutils_stunclient", "-f", "-p", std::to_string(port), "127.0.0.1"});
  EXPECT_EQ(client.wait_exit(), 0);
  const std::string out = client.output();
  EXPECT_NE(out.find("Other addr: : 127.0.0.2:" + std::to_string(port + 1)), std::string::npos)
      << out;
  EXPECT_NE(out.find("Response origin: : 127.0.0.2:" + std::to_string(port + 1)), std::string::npos)
      << out;
  s.signal(SIGTERM);
  EXPECT_EQ(s.wait_exit(), 0);
}

}  // namespace
}  // namespace turnpike::test
