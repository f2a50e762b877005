// SPDX-License-Identifier: Apache-2.0
// TURN in the sans-IO engine with a fake clock, a fake relay allocator and a recording sink:
// every method, the error codes RFC 8656 and RFC 8489 name, and every expiry.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "auth/rest_secrets.hpp"
#include "auth/static_users.hpp"
#include "protocol/attr_address.hpp"
#include "protocol/attr_auth.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/channel_data.hpp"
#include "protocol/integrity.hpp"
#include "protocol/long_term_key.hpp"
#include "server/engine/engine.hpp"
#include "server/engine/store_link.hpp"
#include "support/hex.hpp"
#include "support/recording_sink.hpp"

namespace turnpike::server::engine {
namespace {

namespace p = turnpike::protocol;
using namespace std::chrono_literals;
using test::bytes;

p::transport_address addr(const char* ip, std::uint16_t port) {
  return *p::transport_address::parse_ip(ip, port);
}

using test::recording_sink;

class fake_relays final : public relay_io {
 public:
  std::optional<opened_relay> open_relay(const relay_request& r, relay_error& why) override {
    requests.push_back(r);
    if (r.family == p::address_family::ipv6) {
      if (!ipv6) {
        why = relay_error::no_such_family;
        return std::nullopt;
      }
      opened_relay o;
      o.id = next_id++;
      o.local = addr("2001:db8:1::1", next_port);
      next_port = static_cast<std::uint16_t>(next_port + 2);
      open.insert(o.id);
      return o;
    }
    if (exhausted) {
      why = relay_error::no_port;
      return std::nullopt;
    }
    opened_relay o;
    if (r.token) {
      if (!reserved || *r.token != *reserved) {
        why = relay_error::bad_token;
        return std::nullopt;
      }
      o.local = addr("198.51.100.1", 50001);
      reserved.reset();
    } else {
      o.local = addr("198.51.100.1", next_port);
      next_port = static_cast<std::uint16_t>(next_port + 2);
      if (r.reserve_next) {
        reserved = reservation_token{1, 2, 3, 4, 5, 6, 7, 8};
        o.reserved = reserved;
      }
    }
    o.id = next_id++;
    open.insert(o.id);
    return o;
  }
  void close_relay(relay_id id) override { open.erase(id); }
  void send_to_peer(relay_id id, const p::transport_address& peer, p::byte_span b) override {
    to_peer.push_back({id, peer, bytes(b.begin(), b.end())});
  }
  void connect_peer(relay_id id, const p::transport_address& peer, std::uint32_t connection_id,
                    const tcp_connection_credentials& credentials) override {
    connects.push_back({id, peer, connection_id});
    held[connection_id] = credentials;
  }
  std::optional<tcp_connection_credentials> connection_credentials(std::uint32_t id) override {
    const auto it = held.find(id);
    if (it == held.end()) return std::nullopt;
    return it->second;
  }
  bool bind_connection(std::uint32_t id, const five_tuple& data_path) override {
    if (held.erase(id) == 0) return false;
    bound.emplace_back(id, data_path);
    return true;
  }
  struct connect_call {
    relay_id relay;
    p::transport_address peer;
    std::uint32_t connection_id;
  };
  std::vector<connect_call> connects;
  std::map<std::uint32_t, tcp_connection_credentials> held;
  std::vector<std::pair<std::uint32_t, five_tuple>> bound;
  struct datagram {
    relay_id id;
    p::transport_address peer;
    bytes data;
  };
  std::vector<relay_request> requests;
  std::vector<datagram> to_peer;
  std::set<relay_id> open;
  std::optional<reservation_token> reserved;
  relay_id next_id = 1;
  std::uint16_t next_port = 50000;
  bool exhausted = false;
  bool ipv6 = false;
};

// A kernel data path that records what the engine installs.
class fake_kernel final : public kernel_io {
 public:
  std::optional<std::uint32_t> take_slot() override {
    if (slots_left == 0) return std::nullopt;
    --slots_left;
    return next_slot++;
  }
  void give_slot(std::uint32_t slot) override {
    given_back.push_back(slot);
    ++slots_left;
  }
  bool install(const kernel_route& r) override {
    routes[key(r)] = r;
    ++installs;
    return true;
  }
  void remove(const kernel_route& r) override { routes.erase(key(r)); }
  allocation_traffic traffic(std::uint32_t slot) override { return relayed[slot]; }

  static std::string key(const kernel_route& r) {
    return std::to_string(r.channel) + " " + r.peer.to_string();
  }
  std::map<std::string, kernel_route> routes;
  std::map<std::uint32_t, allocation_traffic> relayed;
  std::vector<std::uint32_t> given_back;
  unsigned installs = 0;
  unsigned slots_left = 8;
  std::uint32_t next_slot = 0;
};

const p::transport_address peer_a = addr("203.0.113.5", 7000);
const p::transport_address peer_b = addr("203.0.113.6", 7001);

class TurnTest : public ::testing::Test {
 protected:
  TurnTest() : users_({{"u", "p", std::nullopt}, {"v", "q", std::nullopt}}, "test") {}

  engine_settings settings() {
    engine_settings s;
    turn_settings t;
    t.realm = "test";
    t.long_term_credentials = true;
    t.nonce.emplace(std::array<std::uint8_t, 32>{42}, 600s,
                    p::security_feature::password_algorithms);
    s.turn = std::move(t);
    // Reproducible "randomness": a counter.
    s.random = [n = std::uint8_t{0}](std::span<std::uint8_t> out) mutable {
      for (auto& b : out) b = ++n;
    };
    return s;
  }
  // Answers from keys_ and quota_ enter the engine at the fixture's clock.
  engine& make(engine_settings s) {
    engine_.reset();
    stores_.emplace(keys_, quota_, [this] { return now_; });
    engine_.emplace(std::move(s), sink_, &relays_, &*stores_, kernel_);
    stores_->attach(*engine_);
    return *engine_;
  }
  engine& make() { return make(settings()); }

  // A request from `path` with whatever `fill` adds, signed as user/password when `sign`.
  template <class F>
  bytes request(p::method m, F&& fill, bool sign = true, const std::string& user = "u",
                const std::string& password = "p") {
    std::array<std::uint8_t, 12> tid{};
    for (auto& b : tid) b = static_cast<std::uint8_t>(++tid_counter_);
    return request_with_tid(m, fill, tid, sign, user, password);
  }
  template <class F>
  bytes request_with_tid(p::method m, F&& fill, const std::array<std::uint8_t, 12>& tid,
                         bool sign = true, const std::string& user = "u",
                         const std::string& password = "p") {
    std::array<std::uint8_t, 1024> buf{};
    p::message_builder b(
        buf, m, m == p::method::send ? p::msg_class::indication : p::msg_class::request, tid);
    fill(b);
    if (sign) {
      b.add(p::attr::username, std::string_view(user));
      b.add(p::attr::realm, std::string_view("test"));
      b.add(p::attr::nonce, std::string_view(nonce_));
      b.add_message_integrity(p::long_term_key_md5(user, "test", password));
    }
    b.add_fingerprint();
    auto out = b.finish();
    if (!out) throw std::runtime_error(out.error().message());
    return bytes(out->begin(), out->end());
  }
  // Sends and returns the single reply, parsed (its bytes stay in the sink).
  p::message_view send(const bytes& req, const five_tuple& path) {
    sink_.out.clear();
    engine_->on_packet(path, req, now_);
    EXPECT_EQ(sink_.out.size(), 1u);
    if (sink_.out.empty()) throw std::runtime_error("no reply");
    return *p::message_view::parse(sink_.out.back().data);
  }
  p::message_view send(const bytes& req) { return send(req, path_); }
  static int code(const p::message_view& m) {
    if (m.cls() != p::msg_class::error_response) return 0;
    return p::decode_error_code(m.find(p::attr::error_code)->value)->code;
  }
  // An unauthenticated Allocate from `path` (default: path_): its 401 carries the nonce.
  void learn_nonce(std::optional<five_tuple> path = std::nullopt) {
    auto challenge =
        send(request(
                 p::method::allocate,
                 [](auto& b) { p::add_requested_transport(b, p::transport_udp); }, false),
             path.value_or(path_));
    nonce_ = std::string(*p::decode_text(p::attr::nonce, challenge.find(p::attr::nonce)->value));
  }
  // 401 dance: learn the nonce, then allocate. Returns the relayed address.
  p::transport_address allocate(const five_tuple& path) {
    learn_nonce(path);
    auto ok = send(request(p::method::allocate,
                           [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                   path);
    EXPECT_EQ(code(ok), 0);
    return *p::decode_xor_address(ok.find(p::attr::xor_relayed_address)->value, ok.tid_bytes());
  }
  p::message_view create_permission(std::initializer_list<p::transport_address> peers) {
    return send(request(p::method::create_permission, [&](auto& b) {
      for (const auto& peer : peers) p::add_xor_address(b, p::attr::xor_peer_address, peer);
    }));
  }
  p::message_view channel_bind(std::uint16_t n, const p::transport_address& peer) {
    return send(request(p::method::channel_bind, [&](auto& b) {
      p::add_channel_number(b, n);
      p::add_xor_address(b, p::attr::xor_peer_address, peer);
    }));
  }
  void advance(std::chrono::seconds d) {
    now_.mono += d;
    now_.unix_seconds += d.count();
    engine_->on_timer(now_);
  }

  auth::static_users users_;
  auth::key_source* keys_ = &users_;
  auth::allocation_quota* quota_ = nullptr;
  recording_sink sink_;
  fake_relays relays_;
  fake_kernel kernel_fake_;
  kernel_io* kernel_ = nullptr;  // kernel-relay: off unless a test points it at kernel_fake_
  std::optional<store_link> stores_;
  std::optional<engine> engine_;
  instant now_{clock::time_point{} + 1h, 1'800'000'000};
  five_tuple path_{transport::udp, addr("198.51.100.1", 3478), addr("192.0.2.10", 40000)};
  std::string nonce_ = "none yet";
  unsigned tid_counter_ = 0;
};

TEST_F(TurnTest, AllocateChallengeThenSuccess) {
  make();
  auto challenge = send(request(
      p::method::allocate, [](auto& b) { p::add_requested_transport(b, p::transport_udp); },
      false));
  EXPECT_EQ(code(challenge), 401);
  EXPECT_EQ(*p::decode_text(p::attr::realm, challenge.find(p::attr::realm)->value), "test");
  const auto n = *p::decode_text(p::attr::nonce, challenge.find(p::attr::nonce)->value);
  EXPECT_EQ(p::parse_nonce_cookie(n), p::security_feature::password_algorithms);
  EXPECT_TRUE(challenge.find(p::attr::password_algorithms));
  EXPECT_FALSE(challenge.message_integrity());
  nonce_ = std::string(n);

  auto ok = send(request(p::method::allocate, [](auto& b) {
    p::add_requested_transport(b, p::transport_udp);
    b.add_u32(p::attr::lifetime, 1200);
  }));
  ASSERT_EQ(code(ok), 0);
  EXPECT_TRUE(ok.is(p::method::allocate, p::msg_class::success_response));
  EXPECT_TRUE(p::check_message_integrity(ok, p::long_term_key_md5("u", "test", "p")));
  EXPECT_TRUE(p::check_fingerprint(ok));
  EXPECT_EQ(p::decode_xor_address(ok.find(p::attr::xor_relayed_address)->value, ok.tid_bytes())
                ->to_string(),
            "198.51.100.1:50000");
  EXPECT_EQ(*p::decode_xor_address(ok.find(p::attr::xor_mapped_address)->value, ok.tid_bytes()),
            path_.remote);
  EXPECT_EQ(*p::decode_u32(ok.find(p::attr::lifetime)->value), 1200u);
  EXPECT_EQ(engine_->allocation_count(), 1u);
  EXPECT_EQ(relays_.open.size(), 1u);
}

TEST_F(TurnTest, AllocateRetransmissionAndMismatch) {
  make();
  allocate(path_);
  std::array<std::uint8_t, 12> tid{9, 9, 9};
  auto fill = [](auto& b) { p::add_requested_transport(b, p::transport_udp); };
  // A new Allocate on the same five-tuple: 437.
  EXPECT_EQ(code(send(request_with_tid(p::method::allocate, fill, tid))), 437);
  // The retransmission of the Allocate that created it: the same success, no new relay.
  const auto created_tid = p::message_view::parse(sink_.out.back().data)->tid();
  (void)created_tid;
  EXPECT_EQ(relays_.open.size(), 1u);
}

TEST_F(TurnTest, AllocateRetransmissionGetsSameAnswer) {
  make();
  learn_nonce();
  const std::array<std::uint8_t, 12> tid{7, 7, 7, 7};
  auto fill = [](auto& b) { p::add_requested_transport(b, p::transport_udp); };
  const bytes req = request_with_tid(p::method::allocate, fill, tid);
  auto first = send(req);
  ASSERT_EQ(code(first), 0);
  const bytes first_bytes = sink_.out.back().data;
  auto again = send(req);
  EXPECT_EQ(code(again), 0);
  EXPECT_EQ(sink_.out.back().data, first_bytes);
  EXPECT_EQ(relays_.requests.size(), 1u);
}

TEST_F(TurnTest, AllocateErrors) {
  make();
  allocate(five_tuple{transport::udp, path_.local, addr("192.0.2.99", 1)});  // learn a nonce
  // Nonces are bound to the client IP: this one was issued to 192.0.2.99.
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) { p::add_requested_transport(b, p::transport_udp); }))),
            438);
  allocate(path_);
  const five_tuple other{transport::udp, path_.local, addr("192.0.2.10", 40001)};
  auto with = [&](auto fill) { return code(send(request(p::method::allocate, fill), other)); };
  EXPECT_EQ(with([](auto&) {}), 400);  // no REQUESTED-TRANSPORT
  EXPECT_EQ(with([](auto& b) { p::add_requested_transport(b, p::transport_tcp); }), 442);
  EXPECT_EQ(with([](auto& b) {
              p::add_requested_transport(b, p::transport_udp);
              b.add_u32(p::attr::requested_address_family, 0x03000000);
            }),
            440);
  EXPECT_EQ(with([](auto& b) {
              p::add_requested_transport(b, p::transport_udp);
              p::add_address_family(b, p::attr::requested_address_family, p::address_family::ipv6);
            }),
            440);  // no IPv6 relay
  EXPECT_EQ(with([](auto& b) {
              p::add_requested_transport(b, p::transport_udp);
              p::add_even_port(b, false);
              b.add(p::attr::reservation_token, bytes(8, 1));
            }),
            400);
  EXPECT_EQ(with([](auto& b) {
              p::add_requested_transport(b, p::transport_udp);
              p::add_address_family(b, p::attr::requested_address_family, p::address_family::ipv4);
              p::add_address_family(b, p::attr::additional_address_family, p::address_family::ipv6);
            }),
            400);
  EXPECT_EQ(with([](auto& b) {
              p::add_requested_transport(b, p::transport_udp);
              b.add(p::attr::reservation_token, bytes(8, 1));
            }),
            508);  // unknown token
  relays_.exhausted = true;
  EXPECT_EQ(with([](auto& b) { p::add_requested_transport(b, p::transport_udp); }), 508);
}

TEST_F(TurnTest, CredentialErrors) {
  make();
  allocate(path_);
  const five_tuple other{transport::udp, path_.local, addr("192.0.2.10", 40001)};
  auto fill = [](auto& b) { p::add_requested_transport(b, p::transport_udp); };
  EXPECT_EQ(code(send(request(p::method::allocate, fill, true, "u", "wrong"), other)), 401);
  EXPECT_EQ(code(send(request(p::method::allocate, fill, true, "nobody", "p"), other)), 401);
  // Integrity without REALM/NONCE: 400.
  std::array<std::uint8_t, 256> buf{};
  p::message_builder b(buf, p::method::allocate, p::msg_class::request, bytes(12, 5));
  p::add_requested_transport(b, p::transport_udp);
  b.add(p::attr::username, std::string_view("u"));
  b.add_message_integrity(p::long_term_key_md5("u", "test", "p"));
  EXPECT_EQ(code(send(bytes(b.finish()->begin(), b.finish()->end()), other)), 400);
  // A nonce past stale-nonce: 438 with a fresh nonce.
  now_.unix_seconds += 601;
  auto stale = send(request(p::method::allocate, fill), other);
  EXPECT_EQ(code(stale), 438);
  EXPECT_TRUE(stale.find(p::attr::nonce));
  // A forged nonce: 438 too.
  nonce_[30] = nonce_[30] == 'a' ? 'b' : 'a';
  EXPECT_EQ(code(send(request(p::method::allocate, fill), other)), 438);
}

TEST_F(TurnTest, Sha256PasswordAlgorithmAndIntegrity) {
  make();
  allocate(five_tuple{transport::udp, path_.local, path_.remote});
  const five_tuple other{transport::udp, path_.local, path_.remote};
  engine_->on_stream_closed(other);  // (UDP: no effect expected besides removing)
  const auto key = p::long_term_key_sha256("u", "test", "p");
  auto build = [&](bool echo_algorithms, bool with_algorithm, bool mi256) {
    std::array<std::uint8_t, 512> buf{};
    const std::array<std::uint8_t, 12> tid{static_cast<std::uint8_t>(++tid_counter_)};
    p::message_builder b(buf, p::method::allocate, p::msg_class::request, tid);
    p::add_requested_transport(b, p::transport_udp);
    b.add(p::attr::username, std::string_view("u"));
    b.add(p::attr::realm, std::string_view("test"));
    b.add(p::attr::nonce, std::string_view(nonce_));
    const std::array<p::password_algorithm, 2> algs{p::password_algorithm::md5,
                                                    p::password_algorithm::sha256};
    if (echo_algorithms) p::add_password_algorithms(b, algs);
    if (with_algorithm) p::add_password_algorithm(b, p::password_algorithm::sha256);
    if (mi256) {
      b.add_message_integrity_sha256(key);
    } else {
      b.add_message_integrity(key);
    }
    return bytes(b.finish()->begin(), b.finish()->end());
  };
  EXPECT_EQ(code(send(build(true, false, true))), 400);  // one without the other
  EXPECT_EQ(code(send(build(false, true, true))), 400);
  auto ok = send(build(true, true, true));
  ASSERT_EQ(code(ok), 0);
  EXPECT_TRUE(p::check_message_integrity_sha256(ok, key));
  EXPECT_FALSE(ok.message_integrity());
}

TEST_F(TurnTest, RefreshLifetimesAndDeletion) {
  auto s = settings();
  s.turn->max_lifetime = 1800s;
  make(std::move(s));
  allocate(path_);
  auto refresh = [&](std::optional<std::uint32_t> life) {
    return send(request(p::method::refresh, [&](auto& b) {
      if (life) b.add_u32(p::attr::lifetime, *life);
    }));
  };
  EXPECT_EQ(*p::decode_u32(refresh(100).find(p::attr::lifetime)->value), 600u);     // default min
  EXPECT_EQ(*p::decode_u32(refresh(99999).find(p::attr::lifetime)->value), 1800u);  // max
  EXPECT_EQ(*p::decode_u32(refresh(std::nullopt).find(p::attr::lifetime)->value), 600u);
  // Another valid user on this allocation: 441.
  EXPECT_EQ(code(send(request(
                p::method::refresh, [](auto&) {}, true, "v", "q"))),
            441);
  // Family mismatch: 443.
  EXPECT_EQ(code(send(request(p::method::refresh,
                              [](auto& b) {
                                p::add_address_family(b, p::attr::requested_address_family,
                                                      p::address_family::ipv6);
                              }))),
            443);
  auto gone = refresh(0);
  EXPECT_EQ(code(gone), 0);
  EXPECT_EQ(*p::decode_u32(gone.find(p::attr::lifetime)->value), 0u);
  EXPECT_EQ(engine_->allocation_count(), 0u);
  EXPECT_TRUE(relays_.open.empty());
  EXPECT_EQ(code(refresh(600)), 437);  // no allocation any more
}

TEST_F(TurnTest, AllocationExpires) {
  make();
  allocate(path_);
  EXPECT_EQ(engine_->next_deadline(), now_.mono + 600s);
  advance(599s);
  EXPECT_EQ(engine_->allocation_count(), 1u);
  advance(1s);
  EXPECT_EQ(engine_->allocation_count(), 0u);
  EXPECT_TRUE(relays_.open.empty());
  EXPECT_EQ(engine_->counters().allocations_expired, 1u);
  EXPECT_EQ(engine_->next_deadline(), clock::time_point::max());
}

TEST_F(TurnTest, PermissionsAndSendIndications) {
  make();
  allocate(path_);
  EXPECT_EQ(code(send(request(p::method::create_permission, [](auto&) {}))), 400);
  EXPECT_EQ(code(create_permission({addr("10.0.0.1", 1)})), 403);
  EXPECT_EQ(code(create_permission({peer_a, addr("169.254.169.254", 80)})), 403);
  EXPECT_EQ(code(create_permission({addr("2001:db8::1", 1)})), 443);
  EXPECT_EQ(code(create_permission({peer_a})), 0);

  auto send_ind = [&](const p::transport_address& to, std::string_view data) {
    engine_->on_packet(path_,
                       request(
                           p::method::send,
                           [&](auto& b) {
                             p::add_xor_address(b, p::attr::xor_peer_address, to);
                             b.add(p::attr::data, data);
                           },
                           false),
                       now_);
  };
  send_ind(peer_a, "hello");
  send_ind(peer_b, "not permitted");
  ASSERT_EQ(relays_.to_peer.size(), 1u);
  EXPECT_EQ(relays_.to_peer[0].peer, peer_a);
  EXPECT_EQ(relays_.to_peer[0].data, test::as_bytes("hello"));
  EXPECT_EQ(engine_->counters().dropped_no_permission, 1u);

  // Peer data: a permitted peer (any port) gets a Data indication, others are dropped.
  sink_.out.clear();
  engine_->on_peer_packet(1, addr("203.0.113.5", 9999), test::as_bytes("back"), now_);
  engine_->on_peer_packet(1, peer_b, test::as_bytes("stranger"), now_);
  ASSERT_EQ(sink_.out.size(), 1u);
  auto data = *p::message_view::parse(sink_.out[0].data);
  EXPECT_TRUE(data.is(p::method::data, p::msg_class::indication));
  EXPECT_EQ(*p::decode_xor_address(data.find(p::attr::xor_peer_address)->value, data.tid_bytes()),
            addr("203.0.113.5", 9999));
  EXPECT_EQ(bytes(data.find(p::attr::data)->value.begin(), data.find(p::attr::data)->value.end()),
            test::as_bytes("back"));

  // Permissions last 300 s; refreshing one extends it.
  advance(200s);
  EXPECT_EQ(code(create_permission({peer_a})), 0);
  advance(200s);
  send_ind(peer_a, "still");
  EXPECT_EQ(relays_.to_peer.size(), 2u);
  advance(101s);
  send_ind(peer_a, "expired");
  EXPECT_EQ(relays_.to_peer.size(), 2u);
}

TEST_F(TurnTest, ChannelsBothWays) {
  make();
  allocate(path_);
  EXPECT_EQ(code(channel_bind(0x3FFF, peer_a)), 400);
  EXPECT_EQ(code(channel_bind(0x8000, peer_a)), 400);  // past RFC 5766's 0x7FFF
  EXPECT_EQ(code(channel_bind(0x4000, addr("127.0.0.1", 5))), 403);
  EXPECT_EQ(code(send(request(p::method::channel_bind,
                              [](auto& b) { p::add_channel_number(b, 0x4000); }))),
            400);
  EXPECT_EQ(code(channel_bind(0x4000, peer_a)), 0);
  EXPECT_EQ(code(channel_bind(0x4000, peer_a)), 0);    // refresh
  EXPECT_EQ(code(channel_bind(0x4000, peer_b)), 400);  // number taken by another peer
  EXPECT_EQ(code(channel_bind(0x4001, peer_a)), 400);  // peer has another number

  std::array<std::uint8_t, 64> buf{};
  const auto n = *p::write_channel_data(buf, 0x4000, test::as_bytes("via channel"), false);
  engine_->on_packet(path_, p::byte_span(buf.data(), n), now_);
  ASSERT_EQ(relays_.to_peer.size(), 1u);
  EXPECT_EQ(relays_.to_peer[0].peer, peer_a);
  EXPECT_EQ(relays_.to_peer[0].data, test::as_bytes("via channel"));
  std::array<std::uint8_t, 64> other{};
  const auto m = *p::write_channel_data(other, 0x4002, test::as_bytes("unbound"), false);
  engine_->on_packet(path_, p::byte_span(other.data(), m), now_);
  EXPECT_EQ(relays_.to_peer.size(), 1u);

  sink_.out.clear();
  engine_->on_peer_packet(1, peer_a, test::as_bytes("reply"), now_);
  ASSERT_EQ(sink_.out.size(), 1u);
  auto cd = p::parse_channel_data(sink_.out[0].data);
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->channel, 0x4000);
  EXPECT_EQ(bytes(cd->data.begin(), cd->data.end()), test::as_bytes("reply"));
  EXPECT_EQ(sink_.out[0].data.size(), 4u + 5u);  // UDP: no padding

  // The channel's permission lapses at 300 s unless refreshed; the binding itself at 600 s.
  // (Nonces last 600 s too: a client answers 438 with the new nonce, as here.)
  auto bind_fresh = [&] {
    auto r = channel_bind(0x4000, peer_a);
    if (code(r) == 438) {
      nonce_ = std::string(*p::decode_text(p::attr::nonce, r.find(p::attr::nonce)->value));
      r = channel_bind(0x4000, peer_a);
    }
    return code(r);
  };
  advance(301s);
  engine_->on_packet(path_, p::byte_span(buf.data(), n), now_);
  EXPECT_EQ(relays_.to_peer.size(), 1u);
  EXPECT_EQ(bind_fresh(), 0);  // refreshes both
  engine_->on_packet(path_, p::byte_span(buf.data(), n), now_);
  EXPECT_EQ(relays_.to_peer.size(), 2u);
  advance(601s);  // past both; the allocation (600 s) is gone too
  engine_->on_packet(path_, p::byte_span(buf.data(), n), now_);
  EXPECT_EQ(relays_.to_peer.size(), 2u);
  EXPECT_EQ(engine_->allocation_count(), 0u);
}

TEST_F(TurnTest, Rfc8656ChannelRangeWhenAskedFor) {
  auto s = settings();
  s.turn->channel_max = p::channel_max_rfc8656;
  make(std::move(s));
  allocate(path_);
  EXPECT_EQ(code(channel_bind(0x5000, peer_a)), 400);
  EXPECT_EQ(code(channel_bind(0x7AA9, peer_a)), 400);
  EXPECT_EQ(code(channel_bind(0x4FFF, peer_a)), 0);
}

TEST_F(TurnTest, Rfc5766ChannelRangeAndStreamPadding) {
  auto s = settings();
  s.turn->channel_max = p::channel_max_rfc5766;
  make(std::move(s));
  path_.proto = transport::tcp;
  allocate(path_);
  EXPECT_EQ(code(channel_bind(0x7AA9, peer_a)), 0);
  sink_.out.clear();
  engine_->on_peer_packet(1, peer_a, test::as_bytes("reply"), now_);
  ASSERT_EQ(sink_.out.size(), 1u);
  EXPECT_EQ(sink_.out[0].data.size(), 12u);  // padded to 4 over streams
  engine_->on_stream_closed(path_);
  EXPECT_EQ(engine_->allocation_count(), 0u);
  EXPECT_TRUE(relays_.open.empty());
}

TEST_F(TurnTest, DtlsIsADatagramTransport) {
  // RFC 8656 section 12.5: ChannelData over DTLS is not padded; RFC 6062: no TCP relay and
  // no ConnectionBind over DTLS. An ended DTLS session ends its allocation.
  auto s = settings();
  s.turn->tcp_relay = true;
  make(std::move(s));
  path_.proto = transport::dtls;
  learn_nonce();
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) { p::add_requested_transport(b, p::transport_tcp); }))),
            400);
  EXPECT_EQ(code(send(request(p::method::connection_bind,
                              [](auto& b) { b.add_u32(p::attr::connection_id, 1); }))),
            400);
  allocate(path_);
  EXPECT_EQ(code(channel_bind(0x4001, peer_a)), 0);
  sink_.out.clear();
  engine_->on_peer_packet(1, peer_a, test::as_bytes("reply"), now_);
  ASSERT_EQ(sink_.out.size(), 1u);
  EXPECT_EQ(sink_.out[0].data.size(), 9u);  // 4-byte header + 5, unpadded
  EXPECT_EQ(sink_.out[0].path.proto, transport::dtls);
  engine_->on_stream_closed(path_);
  EXPECT_EQ(engine_->allocation_count(), 0u);
}

TEST_F(TurnTest, EvenPortReservationAndDontFragment) {
  make();
  allocate(five_tuple{transport::udp, path_.local, addr("192.0.2.10", 1)});
  auto r = send(request(p::method::allocate, [](auto& b) {
    p::add_requested_transport(b, p::transport_udp);
    p::add_even_port(b, true);
    b.add(p::attr::dont_fragment, p::byte_span{});
  }));
  ASSERT_EQ(code(r), 0);
  ASSERT_TRUE(r.find(p::attr::reservation_token));
  EXPECT_TRUE(relays_.requests.back().even_port);
  EXPECT_TRUE(relays_.requests.back().reserve_next);
  EXPECT_TRUE(relays_.requests.back().dont_fragment);
  const bytes token(r.find(p::attr::reservation_token)->value.begin(),
                    r.find(p::attr::reservation_token)->value.end());
  const five_tuple second{transport::udp, path_.local, addr("192.0.2.10", 2)};
  auto r2 = send(request(p::method::allocate,
                         [&](auto& b) {
                           p::add_requested_transport(b, p::transport_udp);
                           b.add(p::attr::reservation_token, token);
                         }),
                 second);
  ASSERT_EQ(code(r2), 0);
  EXPECT_EQ(
      p::decode_xor_address(r2.find(p::attr::xor_relayed_address)->value, r2.tid_bytes())->port,
      50001);
}

TEST_F(TurnTest, QuotaAndNoAuthAndExternalIp) {
  auth::quota quota(1, 0);
  quota_ = &quota;
  auto s = settings();
  s.turn->quota = true;
  s.turn->external_ips = {{addr("198.51.100.1", 0), addr("203.0.113.200", 0)}};
  make(std::move(s));
  const auto relayed = allocate(path_);
  EXPECT_EQ(relayed.to_string(), "203.0.113.200:50000");
  const five_tuple other{transport::udp, path_.local, addr("192.0.2.10", 40001)};
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                      other)),
            486);
  send(request(p::method::refresh, [](auto& b) { b.add_u32(p::attr::lifetime, 0); }));
  EXPECT_EQ(quota.in_use(), 0u);
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                      other)),
            0);

  auto anonymous = settings();
  anonymous.turn->long_term_credentials = false;
  make(std::move(anonymous));
  auto ok = send(request(
      p::method::allocate, [](auto& b) { p::add_requested_transport(b, p::transport_udp); },
      false));
  EXPECT_EQ(code(ok), 0);
  EXPECT_FALSE(ok.message_integrity());
}

// A quota that answers when the test says (as the Redis fleet quota does, later).
struct deferred_quota final : auth::allocation_quota {
  struct ask {
    std::string user;
    std::uint64_t lease;
    callback done;
  };
  std::vector<ask> asked;
  std::vector<std::uint64_t> released;
  void acquire(std::string_view user, std::string_view, std::uint64_t lease,
               callback done) override {
    asked.push_back({std::string(user), lease, std::move(done)});
  }
  void release(std::string_view, std::string_view, std::uint64_t lease) override {
    released.push_back(lease);
  }
};

TEST_F(TurnTest, AsynchronousQuotaAnswers) {
  deferred_quota quota;
  quota_ = &quota;
  auto s = settings();
  s.turn->quota = true;
  make(std::move(s));
  learn_nonce();
  const bytes req = request(p::method::allocate,
                            [](auto& b) { p::add_requested_transport(b, p::transport_udp); });
  sink_.out.clear();
  engine_->on_packet(path_, req, now_);
  EXPECT_TRUE(sink_.out.empty());  // waiting for the quota
  engine_->on_packet(path_, req, now_);
  EXPECT_TRUE(sink_.out.empty());  // the retransmission is dropped meanwhile
  ASSERT_EQ(quota.asked.size(), 1u);
  EXPECT_EQ(quota.asked[0].user, "u");
  quota.asked[0].done(auth::quota_verdict::granted);
  ASSERT_EQ(sink_.out.size(), 1u);
  auto ok = *p::message_view::parse(sink_.out[0].data);
  EXPECT_TRUE(ok.is(p::method::allocate, p::msg_class::success_response));
  EXPECT_TRUE(p::check_message_integrity(ok, p::long_term_key_md5("u", "test", "p")));
  EXPECT_EQ(engine_->allocation_count(), 1u);
  // Ending the allocation gives its lease back.
  send(request(p::method::refresh, [](auto& b) { b.add_u32(p::attr::lifetime, 0); }));
  ASSERT_EQ(quota.released.size(), 1u);
  EXPECT_EQ(quota.released[0], quota.asked[0].lease);

  // Refused: 486, signed. Unavailable: 500.
  const five_tuple second{transport::udp, path_.local, addr("192.0.2.10", 40001)};
  learn_nonce(second);
  sink_.out.clear();
  engine_->on_packet(second,
                     request(p::method::allocate,
                             [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                     now_);
  ASSERT_EQ(quota.asked.size(), 2u);
  quota.asked[1].done(auth::quota_verdict::refused);
  ASSERT_EQ(sink_.out.size(), 1u);
  EXPECT_EQ(code(*p::message_view::parse(sink_.out[0].data)), 486);
  sink_.out.clear();
  engine_->on_packet(second,
                     request(p::method::allocate,
                             [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                     now_);
  ASSERT_EQ(quota.asked.size(), 3u);
  quota.asked[2].done(auth::quota_verdict::unavailable);
  ASSERT_EQ(sink_.out.size(), 1u);
  EXPECT_EQ(code(*p::message_view::parse(sink_.out[0].data)), 500);

  // The client's stream closed while waiting: a late grant is handed straight back.
  const five_tuple tcp{transport::tcp, path_.local, addr("192.0.2.10", 40002)};
  learn_nonce(tcp);
  sink_.out.clear();
  engine_->on_packet(tcp,
                     request(p::method::allocate,
                             [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                     now_);
  ASSERT_EQ(quota.asked.size(), 4u);
  engine_->on_stream_closed(tcp);
  quota.asked[3].done(auth::quota_verdict::granted);
  EXPECT_TRUE(sink_.out.empty());
  EXPECT_EQ(engine_->allocation_count(), 0u);
  ASSERT_EQ(quota.released.size(), 2u);
  EXPECT_EQ(quota.released[1], quota.asked[3].lease);
}

// A key source that answers when the test says (as Redis and SQL do).
struct deferred_keys final : auth::key_source {
  struct ask {
    std::string user;
    callback done;
  };
  std::vector<ask> asked;
  void find_key(std::string_view username, std::string_view, std::int64_t, callback done) override {
    asked.push_back({std::string(username), std::move(done)});
  }
};

TEST_F(TurnTest, StoreAnswersAreInputsTakenWithTheirOwnTime) {
  deferred_keys keys;
  deferred_quota quota;
  keys_ = &keys;
  quota_ = &quota;
  auto s = settings();
  s.turn->quota = true;
  make(std::move(s));
  learn_nonce();
  sink_.out.clear();
  engine_->on_packet(path_,
                     request(p::method::allocate,
                             [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                     now_);
  ASSERT_EQ(keys.asked.size(), 1u);
  EXPECT_EQ(keys.asked[0].user, "u");
  EXPECT_TRUE(sink_.out.empty());
  // Answers to questions never asked change nothing.
  engine_->on_key_answer(12345, {auth::lookup_status::unavailable, {}}, now_);
  engine_->on_quota_answer(12345, auth::quota_verdict::granted, now_);
  EXPECT_TRUE(sink_.out.empty());
  EXPECT_TRUE(quota.asked.empty());
  // The key arrives 100 s later, the quota 100 s after that: the allocation's 600 s run from
  // the quota's answer, the last input, not from the request.
  now_.mono += 100s;
  now_.unix_seconds += 100;
  auth::credential k;
  k.md5 = p::long_term_key_md5("u", "test", "p");
  keys.asked[0].done({auth::lookup_status::found, {k}});
  ASSERT_EQ(quota.asked.size(), 1u);
  EXPECT_TRUE(sink_.out.empty());
  now_.mono += 100s;
  now_.unix_seconds += 100;
  quota.asked[0].done(auth::quota_verdict::granted);
  ASSERT_EQ(sink_.out.size(), 1u);
  EXPECT_EQ(code(*p::message_view::parse(sink_.out[0].data)), 0);
  advance(590s);
  EXPECT_EQ(engine_->allocation_count(), 1u);
  advance(20s);
  EXPECT_EQ(engine_->allocation_count(), 0u);
  // A second answer to the same question is not a new input.
  sink_.out.clear();
  keys.asked[0].done({auth::lookup_status::found, {k}});
  EXPECT_TRUE(sink_.out.empty());
}

struct recording_observer final : allocation_observer {
  std::vector<allocation_event> events;
  std::vector<std::string> users;
  void on_allocation(const allocation_event& e) override {
    events.push_back(e);
    users.emplace_back(e.user);
  }
};

TEST_F(TurnTest, ObserverSeesLifecycleAndTraffic) {
  recording_observer seen;
  auto s = settings();
  s.turn->observer = &seen;
  make(std::move(s));
  allocate(path_);
  ASSERT_EQ(seen.events.size(), 1u);
  EXPECT_EQ(seen.events[0].what, allocation_event::kind::created);
  EXPECT_EQ(seen.users[0], "u");
  EXPECT_EQ(seen.events[0].lifetime, 600u);
  EXPECT_EQ(code(channel_bind(0x4000, peer_a)), 0);
  std::array<std::uint8_t, 64> buf{};
  const auto n = *p::write_channel_data(buf, 0x4000, test::as_bytes("hello"), false);
  engine_->on_packet(path_, p::byte_span(buf.data(), n), now_);
  engine_->on_peer_packet(1, peer_a, test::as_bytes("hi"), now_);
  send(request(p::method::refresh, [](auto& b) { b.add_u32(p::attr::lifetime, 1200); }));
  ASSERT_EQ(seen.events.size(), 2u);
  EXPECT_EQ(seen.events[1].what, allocation_event::kind::refreshed);
  EXPECT_EQ(seen.events[1].lifetime, 1200u);
  EXPECT_EQ(seen.events[1].traffic.received_packets, 1u);
  EXPECT_EQ(seen.events[1].traffic.received_bytes, 5u);
  EXPECT_EQ(seen.events[1].traffic.sent_packets, 1u);
  EXPECT_EQ(seen.events[1].traffic.sent_bytes, 2u);
  engine_->on_packet(path_, p::byte_span(buf.data(), n), now_);
  send(request(p::method::refresh, [](auto& b) { b.add_u32(p::attr::lifetime, 0); }));
  ASSERT_EQ(seen.events.size(), 3u);
  EXPECT_EQ(seen.events[2].what, allocation_event::kind::deleted);
  EXPECT_EQ(seen.events[2].id, seen.events[0].id);
  EXPECT_EQ(seen.events[2].traffic.received_packets, 2u);  // in all
  EXPECT_EQ(seen.events[2].traffic.sent_bytes, 2u);
}

TEST_F(TurnTest, RestApiCredentials) {
  auth::rest_secrets rest({"old-secret", "new-secret"}, "test");
  keys_ = &rest;
  auto s = settings();
  make(std::move(s));
  const std::string user = std::to_string(now_.unix_seconds + 3600) + ":alice";
  const std::string password = auth::rest_secrets::password_for("old-secret", user);
  learn_nonce();
  auto fill = [](auto& b) { p::add_requested_transport(b, p::transport_udp); };
  EXPECT_EQ(code(send(request(p::method::allocate, fill, true, user, password))), 0);
  const std::string expired = std::to_string(now_.unix_seconds - 1) + ":bob";
  const five_tuple other{transport::udp, path_.local, addr("192.0.2.10", 40001)};
  EXPECT_EQ(code(send(request(p::method::allocate, fill, true, expired,
                              auth::rest_secrets::password_for("new-secret", expired)),
                      other)),
            401);
}

TEST_F(TurnTest, MaxBpsDropsExcess) {
  auto s = settings();
  s.turn->max_bps = 1000;
  make(std::move(s));
  allocate(path_);
  ASSERT_EQ(code(create_permission({peer_a})), 0);
  for (int i = 0; i < 20; ++i) {
    engine_->on_peer_packet(1, peer_a, bytes(100, 1), now_);
  }
  EXPECT_EQ(engine_->counters().relayed_to_client_packets, 10u);
  EXPECT_EQ(engine_->counters().dropped_bandwidth, 10u);
  now_.mono += 1s;  // a second later the bucket is full again
  engine_->on_peer_packet(1, peer_a, bytes(100, 1), now_);
  EXPECT_EQ(engine_->counters().relayed_to_client_packets, 11u);
}

TEST_F(TurnTest, RealmOptionsFromRedisAddToTheConfiguredPolicy) {
  make();
  allocate(path_);
  auth::realm_options r;
  r.denied.push_back(*p::parse_ip_range("203.0.113.0/24"));  // peer_a's range
  r.allowed.push_back(*p::parse_ip_range("10.1.2.3"));       // private, allowed by the realm
  r.max_bps = 1000;
  engine_->set_realm_options(r);
  EXPECT_EQ(code(create_permission({peer_a})), 403);
  EXPECT_EQ(code(create_permission({addr("10.1.2.3", 1)})), 0);
  EXPECT_EQ(code(create_permission({addr("10.1.2.4", 1)})), 403);  // still default-denied
  now_.mono += 1s;
  for (int i = 0; i < 20; ++i) engine_->on_peer_packet(1, addr("10.1.2.3", 1), bytes(100, 1), now_);
  EXPECT_EQ(engine_->counters().dropped_bandwidth, 10u);  // max-bps 1000 from the realm
  // Options gone from Redis: back to the configuration.
  engine_->set_realm_options({});
  EXPECT_EQ(code(create_permission({peer_a})), 0);
  EXPECT_EQ(code(create_permission({addr("10.1.2.3", 1)})), 403);
}

// kernel-relay: the engine installs a bound channel with its permission, with the expiry of
// whichever ends first, keeps it in step, and takes it out again.
TEST_F(TurnTest, KernelRouteFollowsChannelPermissionAndAllocation) {
  fake_kernel& kernel = kernel_fake_;
  kernel_ = &kernel;
  make();
  allocate(path_);
  const auto t0 = now_.mono;
  ASSERT_EQ(code(channel_bind(0x4000, peer_a)), 0);
  ASSERT_EQ(kernel.routes.size(), 1u);
  const kernel_route r = kernel.routes.begin()->second;
  EXPECT_EQ(r.client, path_);
  EXPECT_EQ(r.relayed, addr("198.51.100.1", 50000));
  EXPECT_EQ(r.peer, peer_a);
  EXPECT_EQ(r.channel, 0x4000);
  EXPECT_EQ(r.expires, t0 + 300s);  // the permission ends first
  // A permission refreshed at 200 s: the route lives to 500 s.
  advance(200s);
  ASSERT_EQ(code(create_permission({peer_a})), 0);
  EXPECT_EQ(kernel.routes.begin()->second.expires, t0 + 500s);
  // The same binding once more: nothing new to install.
  const unsigned installs = kernel.installs;
  advance(1s);
  EXPECT_EQ(kernel.installs, installs);
  // The permission expires: out of the kernel (the channel lives on in user space).
  advance(300s);
  EXPECT_TRUE(kernel.routes.empty());
  EXPECT_EQ(engine_->gauges().channels, 1u);
}

TEST_F(TurnTest, KernelTrafficIsFoldedIntoCountersAndTheAllocationAndTheSlotGivenBack) {
  fake_kernel& kernel = kernel_fake_;
  kernel_ = &kernel;
  make();
  allocate(path_);
  ASSERT_EQ(code(channel_bind(0x4000, peer_a)), 0);
  const std::uint32_t slot = kernel.routes.begin()->second.slot;
  // Folded in at least every second while the allocation holds a slot.
  EXPECT_LE(engine_->next_deadline(), now_.mono + 1s);
  kernel.relayed[slot] = {3, 300, 5, 500};
  advance(1s);
  EXPECT_EQ(engine_->counters().kernel_to_peer_packets, 3u);
  EXPECT_EQ(engine_->counters().kernel_to_client_packets, 5u);
  EXPECT_EQ(engine_->counters().relayed_to_peer_bytes, 300u);
  EXPECT_EQ(engine_->counters().relayed_to_client_bytes, 500u);
  EXPECT_EQ(engine_->counters().relayed_bytes_by[0][1], 500u);
  // Deleted: the rest folded in, routes out, the slot given back.
  kernel.relayed[slot] = {4, 400, 7, 700};
  ASSERT_EQ(
      code(send(request(p::method::refresh, [](auto& b) { b.add_u32(p::attr::lifetime, 0); }))), 0);
  EXPECT_TRUE(kernel.routes.empty());
  EXPECT_EQ(kernel.given_back, std::vector<std::uint32_t>{slot});
  EXPECT_EQ(engine_->counters().kernel_to_peer_packets, 4u);
  EXPECT_EQ(engine_->counters().relayed_to_client_packets, 7u);
  // Nothing more is read from a slot given back.
  kernel.relayed[slot] = {9, 900, 9, 900};
  advance(1s);
  EXPECT_EQ(engine_->counters().kernel_to_peer_packets, 4u);
}

TEST_F(TurnTest, KernelRelaysNeitherMeteredStreamNorPolicyDeniedChannels) {
  fake_kernel& kernel = kernel_fake_;
  kernel_ = &kernel;
  // max-bps: the kernel does not meter, so user space keeps the channel.
  auto limited = settings();
  limited.turn->max_bps = 100000;
  make(std::move(limited));
  allocate(path_);
  ASSERT_EQ(code(channel_bind(0x4000, peer_a)), 0);
  EXPECT_TRUE(kernel.routes.empty());
  // A TCP client: user space too.
  make();
  const five_tuple tcp{transport::tcp, path_.local, addr("192.0.2.10", 40001)};
  allocate(tcp);
  ASSERT_EQ(code(send(request(p::method::channel_bind,
                              [&](auto& b) {
                                p::add_channel_number(b, 0x4000);
                                p::add_xor_address(b, p::attr::xor_peer_address, peer_a);
                              }),
                      tcp)),
            0);
  EXPECT_TRUE(kernel.routes.empty());
  // A UDP client's channel leaves the kernel when the realm's policy stops permitting its
  // peer, and when a realm limit appears.
  allocate(path_);
  ASSERT_EQ(code(channel_bind(0x4000, peer_a)), 0);
  EXPECT_EQ(kernel.routes.size(), 1u);
  auth::realm_options r;
  r.denied.push_back(*p::parse_ip_range("203.0.113.0/24"));
  engine_->set_realm_options(r);
  EXPECT_TRUE(kernel.routes.empty());
  engine_->set_realm_options({});
  EXPECT_EQ(kernel.routes.size(), 1u);
  auth::realm_options metered;
  metered.max_bps = 1000;
  engine_->set_realm_options(metered);
  EXPECT_TRUE(kernel.routes.empty());
}

TEST_F(TurnTest, ServerCapacitySharedByAllocations) {
  auto s = settings();
  s.turn->capacity_bps = 1500;
  make(std::move(s));
  allocate(path_);
  ASSERT_EQ(code(create_permission({peer_a})), 0);
  const five_tuple second{transport::udp, path_.local, addr("192.0.2.10", 40001)};
  path_ = second;
  allocate(second);
  ASSERT_EQ(code(create_permission({peer_a})), 0);
  for (relay_id id : {1u, 2u, 1u, 2u}) engine_->on_peer_packet(id, peer_a, bytes(500, 1), now_);
  EXPECT_EQ(engine_->counters().relayed_to_client_packets, 3u);
  EXPECT_EQ(engine_->counters().dropped_bandwidth, 1u);
}

TEST_F(TurnTest, DualAllocationRequestGetsIpv4AndRefusesIpv6) {
  make();
  allocate(five_tuple{transport::udp, path_.local, addr("192.0.2.10", 1)});
  auto dual = send(request(p::method::allocate, [](auto& b) {
    p::add_requested_transport(b, p::transport_udp);
    p::add_address_family(b, p::attr::additional_address_family, p::address_family::ipv6);
  }));
  ASSERT_EQ(code(dual), 0);
  EXPECT_EQ(p::decode_xor_address(dual.find(p::attr::xor_relayed_address)->value, dual.tid_bytes())
                ->family,
            p::address_family::ipv4);
  auto refused = p::decode_address_error_code(dual.find(p::attr::address_error_code)->value);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->family, p::address_family::ipv6);
  EXPECT_EQ(refused->code, 440);
  const five_tuple other{transport::udp, path_.local, addr("192.0.2.10", 2)};
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) {
                                p::add_requested_transport(b, p::transport_udp);
                                p::add_address_family(b, p::attr::additional_address_family,
                                                      p::address_family::ipv4);
                              }),
                      other)),
            400);
}

TEST_F(TurnTest, DualAllocationWithBothFamilies) {
  relays_.ipv6 = true;
  make();
  allocate(five_tuple{transport::udp, path_.local, addr("192.0.2.10", 1)});
  auto dual = send(request(p::method::allocate, [](auto& b) {
    p::add_requested_transport(b, p::transport_udp);
    p::add_address_family(b, p::attr::additional_address_family, p::address_family::ipv6);
  }));
  ASSERT_EQ(code(dual), 0);
  std::vector<p::transport_address> relayed;
  for (const p::attribute& a : dual.attributes()) {
    if (a.type == p::attr::xor_relayed_address) {
      relayed.push_back(*p::decode_xor_address(a.value, dual.tid_bytes()));
    }
  }
  ASSERT_EQ(relayed.size(), 2u);
  EXPECT_EQ(relayed[0].family, p::address_family::ipv4);
  EXPECT_EQ(relayed[1].family, p::address_family::ipv6);
  EXPECT_FALSE(dual.find(p::attr::address_error_code));
  const auto peer6 = addr("2606:4700::1111", 7000);
  ASSERT_EQ(code(create_permission({peer_a, peer6})), 0);
  auto send_ind = [&](const p::transport_address& to) {
    engine_->on_packet(path_,
                       request(
                           p::method::send,
                           [&](auto& b) {
                             p::add_xor_address(b, p::attr::xor_peer_address, to);
                             b.add(p::attr::data, std::string_view("x"));
                           },
                           false),
                       now_);
  };
  send_ind(peer_a);
  send_ind(peer6);
  ASSERT_EQ(relays_.to_peer.size(), 2u);
  const relay_id v4 = relays_.to_peer[0].id, v6 = relays_.to_peer[1].id;
  EXPECT_NE(v4, v6);
  // Deleting the IPv6 half leaves the IPv4 relay working.
  auto gone = send(request(p::method::refresh, [](auto& b) {
    p::add_address_family(b, p::attr::requested_address_family, p::address_family::ipv6);
    b.add_u32(p::attr::lifetime, 0);
  }));
  EXPECT_EQ(code(gone), 0);
  EXPECT_EQ(relays_.open.count(v6), 0u);
  EXPECT_EQ(relays_.open.count(v4), 1u);
  EXPECT_EQ(code(create_permission({peer6})), 443);
  send_ind(peer_a);
  EXPECT_EQ(relays_.to_peer.size(), 3u);
  advance(600s);  // the remaining relay still expires on time
  EXPECT_EQ(relays_.open.count(v4), 0u);
}

TEST_F(TurnTest, DefaultFamilyAndNoUdpRelay) {
  auto s = settings();
  s.turn->default_family.reset();  // keep: the client's own family
  make(std::move(s));
  path_.remote = addr("2001:db8::9", 40000);
  learn_nonce();
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) { p::add_requested_transport(b, p::transport_udp); }))),
            440);  // an IPv6 client, and the fake has no IPv6 relay
  EXPECT_EQ(relays_.requests.back().family, p::address_family::ipv6);

  auto no_udp = settings();
  no_udp.turn->udp_relay = false;
  make(std::move(no_udp));
  learn_nonce();
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) { p::add_requested_transport(b, p::transport_udp); }))),
            442);
}

TEST_F(TurnTest, TcpAllocationsRfc6062) {
  auto s = settings();
  s.turn->tcp_relay = true;
  make(std::move(s));
  auto tcp_allocate = [&](const five_tuple& where) {
    return send(request(p::method::allocate,
                        [](auto& b) { p::add_requested_transport(b, p::transport_tcp); }),
                where);
  };
  learn_nonce();
  EXPECT_EQ(code(tcp_allocate(path_)), 400);  // TCP relays need a TCP/TLS control connection
  path_.proto = transport::tcp;
  learn_nonce();
  ASSERT_EQ(code(tcp_allocate(path_)), 0);
  EXPECT_TRUE(relays_.requests.back().tcp);

  auto connect = [&](std::optional<p::transport_address> peer) {
    return send(request(p::method::connect, [&](auto& b) {
      if (peer) p::add_xor_address(b, p::attr::xor_peer_address, *peer);
    }));
  };
  EXPECT_EQ(code(connect(std::nullopt)), 400);
  EXPECT_EQ(code(connect(addr("10.0.0.1", 80))), 403);
  // A Connect is answered when the network layer reports the outcome.
  sink_.out.clear();
  engine_->on_packet(
      path_,
      request(p::method::connect,
              [&](auto& b) { p::add_xor_address(b, p::attr::xor_peer_address, peer_a); }),
      now_);
  EXPECT_TRUE(sink_.out.empty());
  ASSERT_EQ(relays_.connects.size(), 1u);
  EXPECT_EQ(relays_.connects[0].peer, peer_a);
  EXPECT_EQ(code(connect(peer_a)), 446);  // already connecting to that peer
  sink_.out.clear();
  const std::uint32_t id = relays_.connects[0].connection_id;
  engine_->on_peer_connected(id, true);
  ASSERT_EQ(sink_.out.size(), 1u);
  auto ok = *p::message_view::parse(sink_.out[0].data);
  EXPECT_TRUE(ok.is(p::method::connect, p::msg_class::success_response));
  EXPECT_EQ(*p::decode_u32(ok.find(p::attr::connection_id)->value), id);
  EXPECT_TRUE(p::check_message_integrity(ok, p::long_term_key_md5("u", "test", "p")));
  // A failed connect: 447.
  sink_.out.clear();
  engine_->on_packet(
      path_,
      request(p::method::connect,
              [&](auto& b) { p::add_xor_address(b, p::attr::xor_peer_address, peer_b); }),
      now_);
  engine_->on_peer_connected(relays_.connects.back().connection_id, false);
  EXPECT_EQ(code(*p::message_view::parse(sink_.out.back().data)), 447);

  // ConnectionBind on a new data connection.
  const five_tuple data{transport::tcp, path_.local, addr("192.0.2.10", 40002)};
  auto bind = [&](std::uint32_t cid, const std::string& user, const std::string& pw) {
    return send(request(
                    p::method::connection_bind,
                    [&](auto& b) { b.add_u32(p::attr::connection_id, cid); }, true, user, pw),
                data);
  };
  EXPECT_EQ(code(bind(12345, "u", "p")), 400);  // no such connection
  EXPECT_EQ(code(bind(id, "v", "q")), 441);     // not the allocation's user
  EXPECT_EQ(code(bind(id, "u", "wrong")), 401);
  ASSERT_EQ(code(bind(id, "u", "p")), 0);
  ASSERT_EQ(relays_.bound.size(), 1u);
  EXPECT_EQ(relays_.bound[0].second, data);

  // A peer connecting in: only with a permission, announced by ConnectionAttempt.
  // The connection is held under its id before the client hears of it, so a ConnectionBind
  // racing in on another thread finds it; a connection that cannot be held is not announced.
  std::optional<std::pair<std::uint32_t, tcp_connection_credentials>> held;
  std::size_t sent_when_held = 0;
  auto hold = [&](std::uint32_t cid, tcp_connection_credentials c) {
    held.emplace(cid, std::move(c));
    sent_when_held = sink_.out.size();
    return true;
  };
  EXPECT_FALSE(engine_->on_peer_tcp_connection(1, addr("203.0.113.77", 5555), now_, hold));
  EXPECT_FALSE(held);
  ASSERT_EQ(code(create_permission({addr("203.0.113.77", 0)})), 0);
  sink_.out.clear();
  EXPECT_FALSE(engine_->on_peer_tcp_connection(1, addr("203.0.113.77", 5555), now_,
                                               [](std::uint32_t, auto) { return false; }));
  EXPECT_TRUE(sink_.out.empty());
  ASSERT_TRUE(engine_->on_peer_tcp_connection(1, addr("203.0.113.77", 5555), now_, hold));
  ASSERT_TRUE(held);
  EXPECT_EQ(held->second.username, "u");
  EXPECT_EQ(sent_when_held, 0u);
  ASSERT_EQ(sink_.out.size(), 1u);
  auto attempt = *p::message_view::parse(sink_.out[0].data);
  EXPECT_TRUE(attempt.is(p::method::connection_attempt, p::msg_class::indication));
  EXPECT_EQ(*p::decode_u32(attempt.find(p::attr::connection_id)->value), held->first);
  EXPECT_EQ(
      *p::decode_xor_address(attempt.find(p::attr::xor_peer_address)->value, attempt.tid_bytes()),
      addr("203.0.113.77", 5555));
}

TEST_F(TurnTest, ConnectNeedsATcpAllocation) {
  make();
  allocate(path_);
  EXPECT_EQ(code(send(request(
                p::method::connect,
                [](auto& b) { p::add_xor_address(b, p::attr::xor_peer_address, peer_a); }))),
            400);
  auto no_tcp = settings();  // tcp_relay off: TCP allocations are refused
  make(std::move(no_tcp));
  path_.proto = transport::tcp;
  learn_nonce();
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) { p::add_requested_transport(b, p::transport_tcp); }))),
            442);
}

TEST_F(TurnTest, UnauthenticatedAnswersAreRateLimitedPerSource) {
  make();
  sink_.out.clear();
  for (int i = 0; i < 30; ++i) {
    engine_->on_packet(path_,
                       request(
                           p::method::allocate,
                           [](auto& b) { p::add_requested_transport(b, p::transport_udp); }, false),
                       now_);
  }
  EXPECT_EQ(sink_.out.size(), 20u);
  EXPECT_EQ(engine_->counters().unauthenticated_limited, 10u);
  now_.unix_seconds += 1;
  engine_->on_packet(path_,
                     request(
                         p::method::allocate,
                         [](auto& b) { p::add_requested_transport(b, p::transport_udp); }, false),
                     now_);
  EXPECT_EQ(sink_.out.size(), 21u);
}

TEST_F(TurnTest, DataWithoutAllocationIsDropped) {
  make();
  std::array<std::uint8_t, 16> buf{};
  const auto n = *p::write_channel_data(buf, 0x4000, test::as_bytes("x"), false);
  engine_->on_packet(path_, p::byte_span(buf.data(), n), now_);
  engine_->on_peer_packet(77, peer_a, test::as_bytes("x"), now_);
  EXPECT_TRUE(sink_.out.empty());
  EXPECT_EQ(engine_->counters().dropped_no_allocation, 2u);
  // A nonce we never issued: 438 with a fresh one; with that, 437 (no allocation).
  auto stale = channel_bind(0x4000, peer_a);
  EXPECT_EQ(code(stale), 438);
  nonce_ = std::string(*p::decode_text(p::attr::nonce, stale.find(p::attr::nonce)->value));
  EXPECT_EQ(code(channel_bind(0x4000, peer_a)), 437);
}

}  // namespace
TEST_F(TurnTest, AlternateServersRedirectEveryNewAllocateRoundRobin) {
  auto s = settings();
  const auto udp = static_cast<std::size_t>(transport::udp);
  const auto tls = static_cast<std::size_t>(transport::tls);
  s.turn->alternate_servers[udp] = {addr("198.51.100.20", 3478), addr("2001:db8::20", 3478),
                                    addr("198.51.100.21", 3479)};
  s.turn->alternate_servers[tls] = {addr("198.51.100.30", 5349)};
  make(std::move(s));
  learn_nonce();
  auto alternate_of = [&](const five_tuple& path) -> std::optional<p::transport_address> {
    const auto r = send(request(p::method::allocate,
                                [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                        path);
    if (code(r) != 300) return std::nullopt;
    // Signed: the client authenticated, and can trust where it is sent.
    EXPECT_TRUE(r.message_integrity());
    return *p::decode_address(r.find(p::attr::alternate_server)->value);
  };
  // Round robin over the addresses of the family the client reached us on (IPv4 here).
  EXPECT_EQ(alternate_of(path_), addr("198.51.100.20", 3478));
  EXPECT_EQ(alternate_of(path_), addr("198.51.100.21", 3479));
  EXPECT_EQ(alternate_of(path_), addr("198.51.100.20", 3478));
  EXPECT_EQ(engine_->allocation_count(), 0u);
  // TLS clients get the TLS list.
  const five_tuple over_tls{transport::tls, addr("198.51.100.1", 5349), addr("192.0.2.10", 40001)};
  learn_nonce(over_tls);
  EXPECT_EQ(alternate_of(over_tls), addr("198.51.100.30", 5349));
  // A client that reached one of the listed addresses is not sent round in a circle.
  const five_tuple at_alternate{transport::udp, addr("198.51.100.21", 3479),
                                addr("192.0.2.10", 40002)};
  learn_nonce(at_alternate);
  EXPECT_EQ(alternate_of(at_alternate), std::nullopt);
  EXPECT_EQ(engine_->allocation_count(), 1u);
}

TEST_F(TurnTest, DrainingSendsToTheDrainAlternateElseTheAlternateServers) {
  auto s = settings();
  s.turn->alternate_servers[static_cast<std::size_t>(transport::udp)] = {
      addr("198.51.100.20", 3478)};
  make(std::move(s));
  // Clients that reached the listed address itself allocate here.
  auto at_listed = [](std::uint16_t port) {
    return five_tuple{transport::udp, addr("198.51.100.20", 3478), addr("192.0.2.11", port)};
  };
  allocate(at_listed(1));
  auto allocate_on = [&](const five_tuple& path) {
    learn_nonce(path);
    return send(request(p::method::allocate,
                        [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
                path);
  };
  auto alternate = [](const p::message_view& r) {
    return *p::decode_address(r.find(p::attr::alternate_server)->value);
  };
  // Draining with drain-alternate-server: that one, for everybody.
  engine_->set_draining(addr("203.0.113.99", 3478));
  auto r = allocate_on(path_);
  ASSERT_EQ(code(r), 300);
  EXPECT_EQ(alternate(r), addr("203.0.113.99", 3478));
  r = allocate_on(at_listed(2));
  ASSERT_EQ(code(r), 300);
  EXPECT_EQ(alternate(r), addr("203.0.113.99", 3478));
  // Without one: the alternate-server list, and 508 where it offers nothing.
  engine_->set_draining(std::nullopt);
  r = allocate_on(path_);
  ASSERT_EQ(code(r), 300);
  EXPECT_EQ(alternate(r), addr("198.51.100.20", 3478));
  EXPECT_EQ(code(allocate_on(at_listed(3))), 508);
  // The allocation made before the drain still refreshes.
  EXPECT_EQ(code(send(request(p::method::refresh, [](auto&) {}), at_listed(1))), 0);
  EXPECT_EQ(engine_->allocation_count(), 1u);
}

TEST_F(TurnTest, DrainingWithoutAnyAlternateIs508) {
  make();
  engine_->set_draining(std::nullopt);
  learn_nonce();
  EXPECT_EQ(code(send(request(p::method::allocate,
                              [](auto& b) { p::add_requested_transport(b, p::transport_udp); }))),
            508);
}

TEST_F(TurnTest, SessionsAreListedAndEndedAtOnce) {
  make();
  allocate(path_);
  const five_tuple other{transport::udp, addr("198.51.100.1", 3478), addr("192.0.2.77", 5000)};
  learn_nonce(other);
  ASSERT_EQ(code(send(request(
                          p::method::allocate,
                          [](auto& b) { p::add_requested_transport(b, p::transport_udp); }, true,
                          "v", "q"),
                      other)),
            0);
  advance(5s);
  auto all = engine_->sessions({}, now_);
  ASSERT_EQ(all.size(), 2u);
  session_filter only_u;
  only_u.username = "u";
  const auto mine = engine_->sessions(only_u, now_);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].client, path_);
  EXPECT_EQ(mine[0].age_seconds, 5);
  EXPECT_EQ(mine[0].lifetime_left_seconds, 595);
  EXPECT_EQ(mine[0].relayed.size(), 1u);
  session_filter by_ip;
  by_ip.client_ip = addr("192.0.2.77", 1);  // port ignored
  ASSERT_EQ(engine_->sessions(by_ip, now_).size(), 1u);
  EXPECT_EQ(engine_->sessions(by_ip, now_)[0].username, "v");

  // Ended: the relay closes at once and the client's next request meets 437.
  const auto open_before = relays_.open.size();
  session_filter by_id;
  by_id.id = mine[0].id;
  EXPECT_EQ(engine_->end_sessions(by_id), 1u);
  EXPECT_EQ(relays_.open.size(), open_before - 1);
  learn_nonce();
  EXPECT_EQ(code(send(request(p::method::refresh, [](auto&) {}))), 437);
  EXPECT_EQ(engine_->counters().allocations_ended, 1u);
  EXPECT_EQ(engine_->end_sessions(by_id), 0u);
  EXPECT_EQ(engine_->sessions({}, now_).size(), 1u);
}

}  // namespace turnpike::server::engine
