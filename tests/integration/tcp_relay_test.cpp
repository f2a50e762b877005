// SPDX-License-Identifier: Apache-2.0
// RFC 6062 TCP relays against the real binary with two shards, driven by the project's own
// client: peers connecting in (ConnectionAttempt) and the client connecting out (Connect),
// each answered by a ConnectionBind sent the moment the connection id is known, on a new
// connection that may land on either shard; then bytes both ways. Many rounds, because a
// connection announced before it is held is a race that only shows now and then.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/process.hpp"
#include "support/turn_session.hpp"

namespace turnpike::test {
namespace {

namespace p = turnpike::protocol;

p::transport_address loopback(std::uint16_t port) {
  return *p::transport_address::parse_ip("127.0.0.1", port);
}

// A TCP listener on 127.0.0.1 standing in for a peer that the client connects out to.
class tcp_listener {
 public:
  tcp_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("tcp listener");
    }
    port_ = ntohs(a.sin_port);
  }
  ~tcp_listener() { ::close(fd_); }
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;
  std::uint16_t port() const noexcept { return port_; }
  // The next connection's descriptor (the caller closes it), or -1 after the timeout.
  int accept(int timeout_ms = 2000) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return -1;
    return ::accept(fd_, nullptr, nullptr);
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

bool send_all(int fd, const bytes& data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

std::optional<bytes> recv_exactly(int fd, std::size_t n) {
  bytes out;
  while (out.size() < n) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 2000) <= 0) return std::nullopt;
    std::uint8_t buf[512];
    const ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) return std::nullopt;
    out.insert(out.end(), buf, buf + got);
  }
  return out;
}

class TcpRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<process>(std::vector<std::string>{
        TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--relay-threads", "2", "-r",
        "tcp.test", "--lt-cred-mech", "-u", "alice:secret", "--allow-loopback-peers"});
    const auto u = server_->wait_for(std::regex(R"(listening tcp 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(u) << server_->output();
    port_ = static_cast<std::uint16_t>(std::stoi((*u)[1]));
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
  }
  void TearDown() override {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
  }

  // ConnectionBind for `id` on a new connection, signed with the control session's nonce.
  std::unique_ptr<turn_session> bind(const turn_session& control, std::uint32_t id) {
    auto data = std::make_unique<turn_session>(SOCK_STREAM, loopback(port_), "alice", "secret");
    data->set_nonce(control.nonce(), control.realm());
    const auto a = data->request(p::method::connection_bind, [id](p::message_builder& b) {
      b.add_u32(p::attr::connection_id, id);
    });
    if (a.code != 0) {
      ADD_FAILURE() << "ConnectionBind " << id << ": " << a.code;
      return nullptr;
    }
    return data;
  }

  std::unique_ptr<process> server_;
  std::uint16_t port_ = 0;
};

std::uint32_t connection_id_of(const bytes& raw) {
  const auto m = p::message_view::parse(raw);
  if (!m) return 0;
  const auto id = m->find(p::attr::connection_id);
  if (!id) return 0;
  const auto v = p::decode_u32(id->value);
  return v ? *v : 0;
}

TEST_F(TcpRelayTest, EveryConnectionIsBoundAndCarriesBytesBothWays) {
  turn_session control(SOCK_STREAM, loopback(port_), "alice", "secret");
  const auto allocated = control.allocate(p::transport_tcp);
  ASSERT_EQ(allocated.code, 0);
  const auto ok = *p::message_view::parse(allocated.raw);
  const auto relayed =
      *p::decode_xor_address(ok.find(p::attr::xor_relayed_address)->value, ok.tid_bytes());
  ASSERT_EQ(control.create_permission(loopback(9)).code, 0);

  constexpr int rounds = 60;
  for (int i = 0; i < rounds; ++i) {
    SCOPED_TRACE(i);
    const bytes from_peer{'p', static_cast<std::uint8_t>(i)};
    const bytes from_client{'c', static_cast<std::uint8_t>(i), 'x'};
    {
      // In: a peer connects to the relay; the client hears ConnectionAttempt and binds.
      stun_client peer(SOCK_STREAM, relayed);
      const auto attempt = control.client().receive();
      ASSERT_TRUE(attempt);
      const auto m = p::message_view::parse(*attempt);
      ASSERT_TRUE(m && m->is(p::method::connection_attempt, p::msg_class::indication));
      const auto data = bind(control, connection_id_of(*attempt));
      ASSERT_TRUE(data);
      peer.send_raw(from_peer);
      EXPECT_EQ(data->client().receive_raw(from_peer.size()), from_peer);
      data->client().send_raw(from_client);
      EXPECT_EQ(peer.receive_raw(from_client.size()), from_client);
    }
    {
      // Out: the client connects to a listening peer, then binds the connection it names. A
      // new listener (port) each round: the same relayed address to the same peer port again
      // would reuse the last round's four-tuple, which TCP may still hold while it closes.
      tcp_listener listener;
      const auto connected = control.connect(loopback(listener.port()));
      ASSERT_EQ(connected.code, 0);
      const int peer = listener.accept();
      ASSERT_GE(peer, 0);
      const auto data = bind(control, connection_id_of(connected.raw));
      if (data) {
        EXPECT_TRUE(send_all(peer, from_peer));
        EXPECT_EQ(data->client().receive_raw(from_peer.size()), from_peer);
        data->client().send_raw(from_client);
        EXPECT_EQ(recv_exactly(peer, from_client.size()), from_client);
      }
      ::close(peer);
      ASSERT_TRUE(data);
    }
  }
}

}  // namespace
}  // namespace turnpike::test
