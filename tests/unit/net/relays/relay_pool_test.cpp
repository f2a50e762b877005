// SPDX-License-Identifier: Apache-2.0
// The relay pool behind a fake host (a real io_context, poller and outbox; no shard, no
// engine, no server process), on loopback: UDP relays open in the port range and carry
// datagrams both ways under their ids, a closed relay's socket is kept as a spare and reused,
// EVEN-PORT reserves the next port for its token, a busy peer gets a connected socket, and
// RFC 6062 relays accept peers.
#include "server/net/relays/relay_pool.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>

#include "server/net/outbox.hpp"
#include "support/loopback_udp.hpp"

namespace turnpike::server::net {
namespace {

namespace e = turnpike::server::engine;

class fake_host final : public relay_host, private poll_handler {
 public:
  fake_host() : poll_(io_, *this) {}
  boost::asio::io_context& io() noexcept override { return io_; }
  poller& poll() noexcept override { return poll_; }
  outbox& out() noexcept override { return out_; }
  receive_batch& receive_buffers() noexcept override { return receive_; }
  std::minstd_rand& rng() noexcept override { return rng_; }
  unsigned index() const noexcept override { return 0; }
  void on_peer_packet(e::relay_id id, const protocol::transport_address& peer,
                      protocol::byte_span bytes) noexcept override {
    packets.push_back({id, peer, std::string(bytes.begin(), bytes.end())});
  }
  void on_peer_connected(std::uint32_t connection_id, bool ok) noexcept override {
    connected.emplace_back(connection_id, ok);
  }
  bool on_peer_tcp_connection(e::relay_id id, const protocol::transport_address& peer,
                              const e::engine::connection_holder& hold) noexcept override {
    tcp_peers.emplace_back(id, peer);
    return hold(77, {});
  }
  stream_connection* client_connection(const e::five_tuple&) noexcept override { return nullptr; }

  struct packet {
    e::relay_id id;
    protocol::transport_address peer;
    std::string text;
  };
  std::vector<packet> packets;
  std::vector<std::pair<std::uint32_t, bool>> connected;
  std::vector<std::pair<e::relay_id, protocol::transport_address>> tcp_peers;
  relay_pool* pool = nullptr;

  // Runs the io_context until `done` holds (5 s at most).
  template <class F>
  bool run_until(F done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return true;
  }

 private:
  bool read_ready(poll_key key) noexcept override { return pool->read(key); }
  boost::asio::io_context io_;
  poller poll_;
  outbox out_;
  receive_batch receive_;
  std::minstd_rand rng_{42};
};

protocol::transport_address loopback(std::uint16_t port = 0) {
  return *protocol::transport_address::parse_ip("127.0.0.1", port);
}

protocol::byte_span span(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class RelayPoolTest : public ::testing::Test {
 protected:
  RelayPoolTest() {
    setup_.ips = {loopback()};
    setup_.min_port = 40000;
    setup_.max_port = 59999;  // a range large enough for spares
    setup_.reservations = &reservations_;
    setup_.tcp_connections = &connections_;
    pool_.emplace(host_, setup_);
    host_.pool = &*pool_;
    host_.poll().start();
  }
  ~RelayPoolTest() override {
    pool_->close_all();
    host_.poll().close();
  }
  e::opened_relay open(e::relay_request r = {}) {
    e::relay_error why{};
    auto o = pool_->open_relay(r, why);
    EXPECT_TRUE(o);
    return o.value_or(e::opened_relay{});
  }

  relay_reservations reservations_;
  tcp_connection_registry connections_{tcp_bind_limit};
  relay_setup setup_;
  fake_host host_;
  std::optional<relay_pool> pool_;
};

TEST_F(RelayPoolTest, UdpRelaysCarryDatagramsBothWaysUnderTheirIds) {
  const auto a = open();
  const auto b = open();
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.local.port, b.local.port);
  for (const auto& r : {a, b}) {
    EXPECT_GE(r.local.port, 40000);
    EXPECT_LE(r.local.port, 59999);
  }
  EXPECT_EQ(pool_->open_relays(), 2u);
  test::loopback_udp peer;
  pool_->send_to_peer(a.id, peer.address, span("to the peer"));
  const auto got = peer.read_from();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, a.local);  // from the relayed address
  EXPECT_EQ(got[0].second, "to the peer");
  ASSERT_TRUE(peer.send_to(b.local, "from the peer"));
  ASSERT_TRUE(host_.run_until([&] { return !host_.packets.empty(); }));
  EXPECT_EQ(host_.packets[0].id, b.id);
  EXPECT_EQ(host_.packets[0].peer, peer.address);
  EXPECT_EQ(host_.packets[0].text, "from the peer");
  e::relay_error why{};
  e::relay_request v6;
  v6.family = protocol::address_family::ipv6;
  EXPECT_FALSE(pool_->open_relay(v6, why));
  EXPECT_EQ(why, e::relay_error::no_such_family);
}

TEST_F(RelayPoolTest, AClosedRelaysSocketIsASpareForTheNextRelayWithTheSameSettings) {
  const auto a = open();
  pool_->close_relay(a.id);
  EXPECT_EQ(pool_->open_relays(), 0u);
  e::relay_request df;
  df.dont_fragment = true;
  const auto other = open(df);  // another DF setting: a fresh port
  EXPECT_NE(other.local.port, a.local.port);
  const auto again = open();
  EXPECT_EQ(again.local, a.local);  // the spare
  EXPECT_NE(again.id, a.id);
  // The reused socket answers under its new id.
  test::loopback_udp peer;
  ASSERT_TRUE(peer.send_to(again.local, "x"));
  ASSERT_TRUE(host_.run_until([&] { return !host_.packets.empty(); }));
  EXPECT_EQ(host_.packets[0].id, again.id);
}

TEST_F(RelayPoolTest, EvenPortReservesTheNextPortForItsToken) {
  e::relay_request even;
  even.even_port = true;
  even.reserve_next = true;
  const auto first = open(even);
  EXPECT_EQ(first.local.port % 2, 0);
  ASSERT_TRUE(first.reserved);
  e::relay_request by_token;
  by_token.token = *first.reserved;
  const auto second = open(by_token);
  EXPECT_EQ(second.local.port, first.local.port + 1);
  e::relay_error why{};
  EXPECT_FALSE(pool_->open_relay(by_token, why));  // taken once
  EXPECT_EQ(why, e::relay_error::bad_token);
}

TEST_F(RelayPoolTest, ABusyPeerGetsAConnectedSocketOnTheSameRelayedAddress) {
  const auto r = open();
  test::loopback_udp peer;
  for (unsigned i = 0; i < relay_socket::connect_after + 4; ++i) {
    pool_->send_to_peer(r.id, peer.address, span(std::to_string(i)));
  }
  const auto got = peer.read_from();
  ASSERT_EQ(got.size(), relay_socket::connect_after + 4);
  for (unsigned i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, r.local);
    EXPECT_EQ(got[i].second, std::to_string(i));  // in order across the switch
  }
  // The peer's answers arrive through the connected socket, under the same id.
  ASSERT_TRUE(peer.send_to(r.local, "back"));
  ASSERT_TRUE(host_.run_until([&] { return !host_.packets.empty(); }));
  EXPECT_EQ(host_.packets[0].id, r.id);
}

TEST_F(RelayPoolTest, TcpRelaysListenOnTheRelayedAddressAndHoldPeerConnections) {
  e::relay_request tcp;
  tcp.tcp = true;
  const auto r = open(tcp);
  boost::asio::io_context client_io;
  boost::asio::ip::tcp::socket peer(client_io);
  peer.connect({boost::asio::ip::make_address("127.0.0.1"), r.local.port});
  ASSERT_TRUE(host_.run_until([&] { return !host_.tcp_peers.empty(); }));
  EXPECT_EQ(host_.tcp_peers[0].first, r.id);
  EXPECT_EQ(host_.tcp_peers[0].second.port, peer.local_endpoint().port());
  EXPECT_TRUE(pool_->connection_credentials(77));  // held for the ConnectionBind
  EXPECT_FALSE(pool_->bind_connection(77, {}));    // no such client connection here
  pool_->close_relay(r.id);
  EXPECT_EQ(pool_->open_relays(), 0u);
  // Connect from a relay that is gone: the outcome comes back, failed.
  pool_->connect_peer(r.id, loopback(9), 5, {});
  ASSERT_TRUE(host_.run_until([&] { return !host_.connected.empty(); }));
  EXPECT_EQ(host_.connected[0], std::make_pair(5u, false));
}

}  // namespace
}  // namespace turnpike::server::net
