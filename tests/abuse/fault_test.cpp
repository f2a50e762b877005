// SPDX-License-Identifier: Apache-2.0
// Faults the server must survive (docs/faults.md): file descriptors exhausted, SIGTERM in the
// middle of traffic. The Redis faults (killed, restarted, black-holed) are in
// tests/integration/redis_test.cpp, certificate reload under load in tests/interop/tls_test.cpp
// and tests/integration/dtls_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/process.hpp"
#include "support/sinks.hpp"
#include "support/turn_session.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;
namespace p = protocol;

std::uint16_t started_port(process& server) {
  const auto m = server.wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
  return m ? static_cast<std::uint16_t>(std::stoi((*m)[1])) : 0;
}

TEST(Faults, DescriptorsExhaustedGive508NoSpinAndRecover) {
  if (TURNPIKE_SANITIZED) {
    // UBSan's vptr check probes memory through a pipe it opens on the spot; with no
    // descriptor left it reports every virtual call as a bad one. The Release build runs it.
    GTEST_SKIP() << "UBSan cannot check virtual calls without a free descriptor";
  }
  // 96 descriptors in all: the listeners and shard plumbing take a few dozen, the rest go to
  // relay sockets until none is left.
  process server({"/usr/bin/prlimit", "--nofile=96:96", TURNPIKE_BINARY, "-n", "-L", "127.0.0.1",
                  "-p", "0", "--relay-threads", "2", "-r", "faults.test", "--lt-cred-mech", "-u",
                  "alice:secret"});
  const std::uint16_t port = started_port(server);
  ASSERT_NE(port, 0) << server.output();
  const auto at = *p::transport_address::parse_ip("127.0.0.1", port);
  std::vector<std::unique_ptr<turn_session>> held;
  int refused = 0;
  for (int i = 0; i < 200 && refused == 0; ++i) {
    // Each from its own loopback address: the per-source budget for 401 answers (20 a second)
    // is not what this test is about.
    const auto from = p::transport_address::parse_ip("127.0.1." + std::to_string(i + 1), 0);
    auto s = std::make_unique<turn_session>(SOCK_DGRAM, at, "alice", "secret", from);
    const int code = s->allocate().code;
    if (code == 0) {
      held.push_back(std::move(s));
    } else {
      EXPECT_EQ(code, 508);
      ++refused;
    }
  }
  ASSERT_EQ(refused, 1);
  ASSERT_GT(held.size(), 10u);
  // Out of descriptors: UDP still answered; TCP clients wait in the backlog while accept
  // backs off, and the server does not spin on EMFILE.
  const double cpu_before = cpu_seconds(server.pid());
  std::vector<std::unique_ptr<stun_client>> waiting;
  for (int i = 0; i < 5; ++i) waiting.push_back(std::make_unique<stun_client>(SOCK_STREAM, at));
  {
    stun_client udp(SOCK_DGRAM, at);
    if (!udp.binding()) {
      server.wait_exit(3s);  // collects what it printed before it died
      FAIL() << "no answer over UDP:\n" << server.output();
    }
  }
  std::this_thread::sleep_for(1500ms);
  EXPECT_LT(cpu_seconds(server.pid()) - cpu_before, 0.5);
  // Descriptors back: the waiting TCP clients are served, new allocations succeed.
  for (auto& s : held) {
    EXPECT_EQ(s->request(p::method::refresh,
                         [](p::message_builder& b) { b.add_u32(p::attr::lifetime, 0); })
                  .code,
              0);
  }
  held.clear();
  if (HasFailure()) {
    server.wait_exit(3s);
    FAIL() << "server output:\n" << server.output();
  }
  for (auto& c : waiting) EXPECT_TRUE(c->binding());
  turn_session again(SOCK_DGRAM, at, "alice", "secret");
  EXPECT_EQ(again.allocate().code, 0);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
}

TEST(Faults, SigtermDuringTrafficStopsCleanlyAndPromptly) {
  process server({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--relay-threads", "2", "-r",
                  "faults.test", "--lt-cred-mech", "-u", "alice:secret", "--allow-loopback-peers"});
  const std::uint16_t port = started_port(server);
  ASSERT_NE(port, 0) << server.output();
  const auto at = *p::transport_address::parse_ip("127.0.0.1", port);
  // A peer that echoes, and 8 sessions sending ChannelData to it as fast as they can.
  udp_sink echo;
  const auto peer = echo.address();
  std::atomic<bool> stop{false};
  std::thread echoer([&] {
    while (!stop) echo.echo_one(50);
  });
  std::vector<std::unique_ptr<turn_session>> sessions;
  for (int i = 0; i < 8; ++i) {
    sessions.push_back(std::make_unique<turn_session>(SOCK_DGRAM, at, "alice", "secret"));
    ASSERT_EQ(sessions.back()->allocate().code, 0);
    ASSERT_EQ(sessions.back()->channel_bind(0x4000, peer).code, 0);
  }
  std::thread sender([&] {
    const bytes data{0x40, 0x00, 0x00, 0x40, 'p', 'a', 'y', 'l', 'o', 'a', 'd'};
    bytes padded = data;
    padded.resize(4 + 64, 0);
    while (!stop) {
      for (auto& s : sessions) {
        try {
          s->client().send_raw(padded);
        } catch (const std::exception&) {
          // the server went away: ICMP refused on a connected socket
        }
      }
    }
  });
  std::this_thread::sleep_for(1s);
  const auto t0 = std::chrono::steady_clock::now();
  server.signal(SIGTERM);
  const auto rc = server.wait_exit(10s);
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  sender.join();
  echoer.join();
  ASSERT_TRUE(rc.has_value()) << server.output();
  EXPECT_EQ(*rc, 0) << server.output();
  EXPECT_LT(took, 3s);
  EXPECT_NE(server.output().find("allocations"), std::string::npos);  // the stop summary
}

}  // namespace
}  // namespace turnpike::test
