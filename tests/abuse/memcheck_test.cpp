// SPDX-License-Identifier: Apache-2.0
// The relay under valgrind memcheck: every byte the server sends must have been written by
// it (memcheck flags a send of uninitialised bytes, as in coturn's old uninitialised-response
// leaks), and no read may fall outside what was received. A session exercises every kind of
// answer and relayed datagram, including malformed and lying input; the server must then
// stop with no memcheck error and no definite leak.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "protocol/channel_data.hpp"
#include "support/process.hpp"
#include "support/sinks.hpp"
#include "support/turn_session.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;
namespace p = protocol;

TEST(Memcheck, EveryByteSentWasWrittenAndNothingLeaks) {
  if (TURNPIKE_SANITIZED) GTEST_SKIP() << "an ASan binary cannot run under valgrind";
  if (!std::filesystem::exists("/usr/bin/valgrind")) GTEST_SKIP() << "valgrind not installed";
  process server({"/usr/bin/valgrind",
                  "--error-exitcode=99",
                  "--leak-check=full",
                  "--errors-for-leak-kinds=definite",
                  "--show-leak-kinds=definite",
                  "-q",
                  TURNPIKE_BINARY,
                  "-n",
                  "-L",
                  "127.0.0.1",
                  "-p",
                  "0",
                  "--relay-threads",
                  "1",
                  "-r",
                  "memcheck.test",
                  "--lt-cred-mech",
                  "-u",
                  "alice:secret",
                  "-u",
                  "bob:hunter2",
                  "--allow-loopback-peers",
                  "--software-attribute",
                  "--include-reason-string"});
  const auto m = server.wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"), 60s);
  ASSERT_TRUE(m) << server.output();
  // It really is memcheck running the server.
  const auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(server.pid()) + "/exe");
  ASSERT_NE(exe.string().find("memcheck"), std::string::npos) << exe;
  const auto at =
      *p::transport_address::parse_ip("127.0.0.1", static_cast<std::uint16_t>(std::stoi((*m)[1])));
  // A peer that answers every datagram with its own bytes.
  udp_sink peer;
  const auto peer_at = peer.address();
  auto echo_one = [&] { return peer.echo_one(5000); };

  {
    stun_client c(SOCK_DGRAM, at);
    ASSERT_TRUE(c.binding());
    c.send_raw(stun_client::binding_request(false));
    EXPECT_TRUE(c.receive(5000));
    bytes classic = stun_client::binding_request(false);  // RFC 3489: no magic cookie
    classic[4] = 0;
    c.send_raw(classic);
    EXPECT_TRUE(c.receive(5000));
  }
  turn_session s(SOCK_DGRAM, at, "alice", "secret");
  ASSERT_EQ(s.allocate().code, 0);
  ASSERT_EQ(s.create_permission(peer_at).code, 0);
  ASSERT_EQ(s.channel_bind(0x4001, peer_at).code, 0);
  // Send indication out, Data indication back.
  s.send_indication(peer_at, bytes{'o', 'd', 'd'});  // an odd length: padding on the way back
  ASSERT_TRUE(echo_one());
  EXPECT_TRUE(s.client().receive(5000));
  // ChannelData out (unpadded), back as ChannelData.
  s.client().send_raw(bytes{0x40, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'});
  ASSERT_TRUE(echo_one());
  EXPECT_TRUE(s.client().receive(5000));
  // A ChannelData whose length field lies: dropped, nothing read past the datagram.
  s.client().send_raw(bytes{0x40, 0x01, 0x04, 0x00, 'x'});
  // Errors of every kind: 400, 420, 437-ish, 438, 441, 403, 508.
  s.request(p::method::create_permission);  // no XOR-PEER-ADDRESS: 400
  {
    const auto tid = turn_session::fresh_tid();
    s.client().send_raw(s.build(
        p::method::binding, tid,
        [](p::message_builder& b) { b.add(0x0031, std::string_view("?")); }, false));
    EXPECT_EQ(s.await(tid, 5000).code, 420);
  }
  EXPECT_EQ(s.create_permission(*p::transport_address::parse_ip("10.0.0.1", 9)).code, 403);
  {
    turn_session bob(SOCK_DGRAM, at, "bob", "hunter2");
    bob.set_nonce(s.nonce(), s.realm());
    const auto tid = turn_session::fresh_tid();
    s.client().send_raw(bob.build(p::method::refresh, tid, {}));
    EXPECT_EQ(s.await(tid, 5000).code, 441);
  }
  {
    turn_session forged(SOCK_DGRAM, at, "alice", "secret");
    forged.set_nonce(std::string(s.nonce().size(), 'a'), s.realm());
    EXPECT_EQ(forged
                  .request(
                      p::method::allocate,
                      [](p::message_builder& b) { p::add_requested_transport(b, 17); }, false)
                  .code,
              438);
    turn_session wrong(SOCK_DGRAM, at, "alice", "wrong");
    EXPECT_EQ(wrong.allocate().code, 401);
  }
  // Over TCP: framing, and a TCP client's Allocate answered on the stream.
  {
    turn_session t(SOCK_STREAM, at, "alice", "secret");
    EXPECT_EQ(t.allocate().code, 0);
    t.client().send_raw(bytes{0x40, 0x00, 0x00, 0x03, 'a', 'b'});  // a truncated frame, then close
  }
  EXPECT_EQ(
      s.request(p::method::refresh, [](p::message_builder& b) { b.add_u32(p::attr::lifetime, 0); })
          .code,
      0);
  server.signal(SIGTERM);
  const auto rc = server.wait_exit(60s);
  ASSERT_TRUE(rc.has_value()) << server.output();
  EXPECT_EQ(*rc, 0) << server.output();  // 99: memcheck found an error
  EXPECT_EQ(server.output().find("uninitialised"), std::string::npos) << server.output();
}

}  // namespace
}  // namespace turnpike::test
