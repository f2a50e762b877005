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
#include "support/signaling_client.hpp"
#include "support/sinks.hpp"
#include "support/turn_session.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;
namespace p = protocol;

// The server under memcheck on a free loopback port with one shard and realm memcheck.test,
// plus `options`. Exit code 99 means memcheck found an error or a definite leak.
process under_memcheck(std::vector<std::string> options) {
  std::vector<std::string> argv{"/usr/bin/valgrind",
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
                                "memcheck.test"};
  argv.insert(argv.end(), options.begin(), options.end());
  return process(argv);
}

TEST(Memcheck, EveryByteSentWasWrittenAndNothingLeaks) {
  if (TURNPIKE_SANITIZED) GTEST_SKIP() << "an ASan binary cannot run under valgrind";
  if (!std::filesystem::exists("/usr/bin/valgrind")) GTEST_SKIP() << "valgrind not installed";
  process server =
      under_memcheck({"--lt-cred-mech", "-u", "alice:secret", "-u", "bob:hunter2",
                      "--allow-loopback-peers", "--software-attribute", "--include-reason-string"});
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

// The signaling service under memcheck: WebSocket and HTTP peers in one room, relaying,
// polling, /ice-servers, refusals (bad JSON, an oversize frame, a bad key), a peer that goes
// away without a word, then a stop with peers still in rooms.
TEST(Memcheck, SignalingLeaksNothing) {
  if (TURNPIKE_SANITIZED) GTEST_SKIP() << "an ASan binary cannot run under valgrind";
  if (!std::filesystem::exists("/usr/bin/valgrind")) GTEST_SKIP() << "valgrind not installed";
  const std::string key = "memcheck-signaling-key-0123";
  process server = under_memcheck({"--use-auth-secret", "--static-auth-secret", "s",
                                   "--signaling-port", "0", "--signaling-address", "127.0.0.1",
                                   "--signaling-api-key", key, "--signaling-max-message", "4096"});
  const auto m = server.wait_for(std::regex(R"(signaling on http://127\.0\.0\.1:(\d+))"), 60s);
  ASSERT_TRUE(m) << server.output();
  const auto port = static_cast<std::uint16_t>(std::stoi((*m)[1]));
  const auto wait = std::chrono::milliseconds(20000);  // memcheck is slow
  {
    ws_client a(port), b(port);
    a.send(R"({"type":"join","room":"mem"})");
    ASSERT_EQ(str(a.read_json(wait).at("type")), "joined");
    b.send(R"({"type":"join","room":"mem"})");
    ASSERT_EQ(str(b.read_json(wait).at("type")), "joined");
    auto joined = http_call(port, bhttp::verb::post, "/join", R"({"room":"mem"})");
    ASSERT_EQ(joined.status, 200) << joined.body;
    const std::string token = str(parse(joined.body).at("token"));
    b.send(R"({"type":"offer","sdp":"v=0 memcheck"})");
    b.send(
        R"({"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 x.local 9 typ host"}})");
    b.send("{not json");
    EXPECT_EQ(str(b.read_type("error", wait).at("error")), "bad-json");
    EXPECT_EQ(str(a.read_type("offer", wait).at("sdp")), "v=0 memcheck");
    auto polled = http_call(port, bhttp::verb::get, "/events?token=" + token);
    EXPECT_EQ(polled.status, 200) << polled.body;
    EXPECT_EQ(http_call(port, bhttp::verb::post, "/answer",
                        R"({"token":")" + token + R"(","sdp":"v=0 back"})")
                  .status,
              200);
    EXPECT_EQ(str(b.read_type("answer", wait).at("sdp")), "v=0 back");
    EXPECT_EQ(http_call(port, bhttp::verb::get, "/ice-servers?user=m", "", key).status, 200);
    EXPECT_EQ(http_call(port, bhttp::verb::get, "/ice-servers?user=m", "", "wrong").status, 401);
    EXPECT_EQ(http_call(port, bhttp::verb::get, "/").status, 200);
    EXPECT_EQ(http_call(port, bhttp::verb::post, "/join", std::string(5000, '{')).status, 413);
    // An oversize frame closes that WebSocket; the other peer hears it left.
    a.send(R"({"type":"offer","sdp":")" + std::string(5000, 'x') + "\"}");
    for (int i = 0; i < 10 && a.read(wait); ++i) {
    }  // what was already on its way, then the close
    EXPECT_EQ(a.error(), websocket::error::closed) << a.error().message();
    EXPECT_EQ(str(b.read_type("peer-left", wait).at("type")), "peer-left");
    // b and the HTTP peer stay in the room until the server stops.
  }
  server.signal(SIGTERM);
  const auto rc = server.wait_exit(60s);
  ASSERT_TRUE(rc.has_value()) << server.output();
  EXPECT_EQ(*rc, 0) << server.output();  // 99: memcheck found an error
}

}  // namespace
}  // namespace turnpike::test
