// SPDX-License-Identifier: Apache-2.0
// relay-mux against the real binary (root only: it loads an sk_lookup BPF program and opens
// raw sockets), in a network namespace of the test's own: coturn's turnutils_uclient relays through
// it over channels, Send indications, client to client and an IPv6 relay with zero loss; EVEN-PORT
// reservations work; hundreds of allocations cost the server no descriptors; the capabilities
// the set-up needed are gone from every thread afterwards; a port range overlapping the
// kernel's ephemeral ports stops start-up with the reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "support/netns.hpp"
#include "support/process.hpp"
#include "support/turn_session.hpp"
#include "support/uclient.hpp"

namespace turnpike::test {
namespace {

namespace p = turnpike::protocol;
using namespace std::chrono_literals;

p::transport_address loopback(std::uint16_t port, const char* ip = "127.0.0.1") {
  return *p::transport_address::parse_ip(ip, port);
}

std::size_t open_descriptors(int pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

// True when a datagram sent to `to` (IPv4) from a connected socket draws port unreachable.
bool refused_at(const p::transport_address& to) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(to.port);
  std::memcpy(&a.sin_addr, to.ip.data(), 4);
  bool refused = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, "x", 1, 0) == 1) {
    pollfd pfd{fd, POLLIN, 0};
    ::poll(&pfd, 1, 1000);
    char c;
    refused = ::recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED;
  }
  ::close(fd);
  return refused;
}

class RelayMuxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "relay-mux needs root (BPF and raw sockets)";
    netns_ = std::make_unique<private_netns>();
    min_port_ = private_netns::relay_min;
    peer_port_ = free_port();
    peer_ = std::make_unique<process>(std::vector<std::string>{
        "turnutils_peer", "-L", "127.0.0.1", "-L", "::1", "-p", std::to_string(peer_port_)});
    server_ = std::make_unique<process>(std::vector<std::string>{TURNPIKE_BINARY,
                                                                 "-n",
                                                                 "-L",
                                                                 "127.0.0.1",
                                                                 "-L",
                                                                 "::1",
                                                                 "-p",
                                                                 "0",
                                                                 "--relay-threads",
                                                                 "2",
                                                                 "-r",
                                                                 "mux.test",
                                                                 "--lt-cred-mech",
                                                                 "-u",
                                                                 "u:p",
                                                                 "--allow-loopback-peers",
                                                                 "--no-rfc5780",
                                                                 "--relay-mux",
                                                                 "--relay-ip",
                                                                 "127.0.0.1",
                                                                 "--relay-ip",
                                                                 "127.0.0.2",
                                                                 "--relay-ip",
                                                                 "::1",
                                                                 "--min-port",
                                                                 std::to_string(min_port_),
                                                                 "--max-port",
                                                                 "65535"});
    const auto m = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(m) << server_->output();
    port_ = static_cast<std::uint16_t>(std::stoi((*m)[1]));
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
    ASSERT_NE(server_->output().find("relay-mux: UDP relays"), std::string::npos)
        << server_->output();
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
  uclient_result uclient(std::vector<std::string> flags, const char* peer_ip = "127.0.0.1") {
    for (const std::string& a :
         {std::string("-u"), std::string("u"), std::string("-w"), std::string("p"),
          std::string("-p"), std::to_string(port_), std::string("-e"), std::string(peer_ip),
          std::string("-r"), std::to_string(peer_port_), std::string("-n"), std::string("50"),
          std::string("-m"), std::string("4"), std::string("-l"), std::string("170"),
          std::string("127.0.0.1")}) {
      flags.push_back(a);
    }
    return run_uclient(flags);
  }

  // A Send indication to the echoing peer comes back as a Data indication.
  bool echoes(turn_session& s) {
    return s.create_permission(loopback(peer_port_)).code == 0 && echoed(s, loopback(peer_port_));
  }

  std::unique_ptr<private_netns> netns_;
  std::unique_ptr<process> peer_;
  std::unique_ptr<process> server_;
  std::uint16_t min_port_ = 0;
  std::uint16_t port_ = 0;
  std::uint16_t peer_port_ = 0;
};

TEST_F(RelayMuxTest, UclientRelaysWithZeroLoss) {
  for (const auto& flags :
       std::vector<std::vector<std::string>>{{}, {"-s"}, {"-y"}, {"-t"}, {"-x"}}) {
    std::string name;
    for (const auto& f : flags) name += f + " ";
    SCOPED_TRACE(name);
    // -x: an IPv6 relay (the peer on ::1); -y: client to client, relay to relay.
    const auto r = uclient(flags, flags == std::vector<std::string>{"-x"} ? "::1" : "127.0.0.1");
    EXPECT_EQ(r.sent, 200) << r.output;
    EXPECT_EQ(r.received, 200) << r.output;
    EXPECT_TRUE(r.zero_loss) << r.output;
  }
}

TEST_F(RelayMuxTest, AllocationsCostNoDescriptorsAndPortsAreDistinctAndInRange) {
  const std::size_t before = open_descriptors(server_->pid());
  std::vector<std::unique_ptr<turn_session>> sessions;
  std::set<std::pair<std::array<std::uint8_t, 16>, std::uint16_t>> ports;
  std::vector<p::transport_address> relayed;
  for (int i = 0; i < 400; ++i) {
    sessions.push_back(std::make_unique<turn_session>(SOCK_DGRAM, loopback(port_), "u", "p"));
    // The first session's nonce for all (unauthenticated answers are rate-limited per IP).
    if (i > 0) sessions.back()->set_nonce(sessions[0]->nonce(), sessions[0]->realm());
    const auto a = sessions.back()->allocate();
    ASSERT_EQ(a.code, 0) << i;
    relayed.push_back(relayed_of(a));
    EXPECT_GE(relayed.back().port, min_port_);
    ports.insert({relayed.back().ip, relayed.back().port});
  }
  EXPECT_EQ(ports.size(), 400u);
  // Spread over both IPv4 relay addresses (the one with more ports free goes next).
  const auto on = [&](const char* ip) {
    return std::count_if(relayed.begin(), relayed.end(),
                         [&](const p::transport_address& r) { return r.ip == loopback(0, ip).ip; });
  };
  EXPECT_EQ(on("127.0.0.1") + on("127.0.0.2"), 400);
  EXPECT_GE(on("127.0.0.1"), 190);
  EXPECT_GE(on("127.0.0.2"), 190);
  EXPECT_LT(open_descriptors(server_->pid()), before + 8);
  // Each still relays.
  ASSERT_TRUE(echoes(*sessions.back()));
  // While an allocation lives, a datagram to its address from a stranger is taken (and
  // dropped: no permission); once deleted, nothing is steered there and the kernel answers
  // port unreachable.
  EXPECT_FALSE(refused_at(relayed.front()));
  for (auto& x : sessions) {
    ASSERT_EQ(x->request(p::method::refresh,
                         [](p::message_builder& b) { b.add_u32(p::attr::lifetime, 0); })
                  .code,
              0);
  }
  EXPECT_TRUE(refused_at(relayed.front()));
}

TEST_F(RelayMuxTest, EvenPortReservationGivesTheNextPort) {
  turn_session first(SOCK_DGRAM, loopback(port_), "u", "p");
  const auto a = first.request(p::method::allocate, [](p::message_builder& b) {
    p::add_requested_transport(b, 17);
    p::add_even_port(b, true);
  });
  ASSERT_EQ(a.code, 0);
  const auto even = relayed_of(a);
  EXPECT_EQ(even.port % 2, 0);
  const auto m = p::message_view::parse(a.raw);
  const auto token = m->find(p::attr::reservation_token);
  ASSERT_TRUE(token);
  const bytes value(token->value.begin(), token->value.end());
  turn_session second(SOCK_DGRAM, loopback(port_), "u", "p");
  const auto b = second.request(p::method::allocate, [&](p::message_builder& x) {
    p::add_requested_transport(x, 17);
    x.add(p::attr::reservation_token, p::byte_span(value.data(), value.size()));
  });
  ASSERT_EQ(b.code, 0);
  EXPECT_EQ(relayed_of(b).port, even.port + 1);
  // A token is good once.
  turn_session third(SOCK_DGRAM, loopback(port_), "u", "p");
  EXPECT_EQ(third
                .request(p::method::allocate,
                         [&](p::message_builder& x) {
                           p::add_requested_transport(x, 17);
                           x.add(p::attr::reservation_token,
                                 p::byte_span(value.data(), value.size()));
                         })
                .code,
            508);
}

TEST_F(RelayMuxTest, CapabilitiesAreDroppedInEveryThreadAndRelayingGoesOn) {
  ASSERT_TRUE(server_->wait_for(std::regex("CAP_NET_RAW dropped"))) << server_->output();
  // CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_BPF 39.
  const auto left = capabilities_of(server_->pid(), (1ull << 12) | (1ull << 13) | (1ull << 39));
  EXPECT_EQ(left.held, 0u);
  EXPECT_GE(left.threads, 3u);  // main and two shards
  // New allocations still get steered (a map update without the capabilities), and relay.
  turn_session s(SOCK_DGRAM, loopback(port_), "u", "p");
  ASSERT_EQ(s.allocate().code, 0);
  EXPECT_TRUE(echoes(s));
}

TEST(RelayMuxConfig, EphemeralOverlapStopsStartup) {
  if (::geteuid() != 0) GTEST_SKIP() << "relay-mux needs root";
  private_netns netns;
  process server({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--relay-mux", "--min-port",
                  "40000", "--max-port", "40100"});
  EXPECT_EQ(server.wait_exit(10s), 1);
  EXPECT_NE(server.output().find("ip_local_port_range"), std::string::npos) << server.output();
}

}  // namespace
}  // namespace turnpike::test
