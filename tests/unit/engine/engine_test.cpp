// SPDX-License-Identifier: Apache-2.0
// The sans-IO engine: Binding answers, RFC 5780 redirection, RFC 3489 clients, and every way
// a request is refused or a packet dropped and counted.
#include <gtest/gtest.h>

#include "protocol/attr_address.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_nat.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/integrity.hpp"
#include "server/engine/engine.hpp"
#include "support/hex.hpp"
#include "support/recording_sink.hpp"

namespace turnpike::server::engine {
namespace {

namespace p = turnpike::protocol;
using test::bytes;

using test::recording_sink;

const std::array<std::uint8_t, 12> tid{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};

p::transport_address addr(const char* ip, std::uint16_t port) {
  return *p::transport_address::parse_ip(ip, port);
}

const instant t0{clock::time_point{} + std::chrono::hours(1), 1'800'000'000};

const five_tuple udp_path{transport::udp, addr("127.0.0.1", 3478), addr("192.0.2.7", 40000)};

// A request built by `fill`.
template <class F>
bytes request(p::method m, F&& fill, p::msg_class c = p::msg_class::request) {
  std::array<std::uint8_t, 1024> buf{};
  p::message_builder b(buf, m, c, tid);
  fill(b);
  auto out = b.finish();
  if (!out) throw std::runtime_error(out.error().message());
  return bytes(out->begin(), out->end());
}
bytes binding(bool fingerprint = false) {
  return request(p::method::binding, [&](auto& b) {
    if (fingerprint) b.add_fingerprint();
  });
}

class EngineTest : public ::testing::Test {
 protected:
  engine make(engine_settings s = {}) { return engine(std::move(s), sink); }
  p::message_view only_reply() {
    EXPECT_EQ(sink.out.size(), 1u);
    auto m = p::message_view::parse(sink.out.at(0).data);
    EXPECT_TRUE(m);
    return *m;
  }
  int error_code_of(const p::message_view& m) {
    EXPECT_EQ(m.cls(), p::msg_class::error_response);
    auto ec = m.find(p::attr::error_code);
    if (!ec) return 0;
    return p::decode_error_code(ec->value)->code;
  }
  recording_sink sink;
};

TEST_F(EngineTest, BindingSuccess) {
  auto e = make();
  e.on_packet(udp_path, binding(), t0);
  auto m = only_reply();
  EXPECT_TRUE(m.is(p::method::binding, p::msg_class::success_response));
  EXPECT_EQ(m.tid(), tid);
  EXPECT_EQ(*p::decode_xor_address(m.find(p::attr::xor_mapped_address)->value, m.tid_bytes()),
            udp_path.remote);
  EXPECT_FALSE(m.find(p::attr::mapped_address));  // RFC 3489 clients only
  EXPECT_FALSE(m.fingerprint());
  EXPECT_FALSE(m.find(p::attr::software));
  EXPECT_FALSE(m.find(p::attr::response_origin));
  EXPECT_EQ(sink.out[0].path, udp_path);
  EXPECT_EQ(e.counters().binding_requests, 1u);
  EXPECT_EQ(e.counters().success_responses, 1u);
}

TEST_F(EngineTest, FingerprintWhenRequestHadOneOrAlways) {
  auto e = make();
  e.on_packet(udp_path, binding(true), t0);
  auto m = only_reply();
  EXPECT_TRUE(p::check_fingerprint(m));
  sink.out.clear();
  auto always = make({.fingerprint_always = true});
  always.on_packet(udp_path, binding(false), t0);
  EXPECT_TRUE(p::check_fingerprint(only_reply()));
}

TEST_F(EngineTest, SoftwareAndNoBackwardCompatibility) {
  auto e = make({.backward_compatibility = false, .software = "Turnpike test"});
  e.on_packet(udp_path, binding(), t0);
  auto m = only_reply();
  EXPECT_FALSE(m.find(p::attr::mapped_address));
  EXPECT_EQ(*p::decode_text(p::attr::software, m.find(p::attr::software)->value), "Turnpike test");
}

TEST_F(EngineTest, ClassicRfc3489Request) {
  // Binding request whose "cookie" bytes are part of a 16-byte transaction ID.
  const bytes req = test::from_hex("00010000a1a2a3a4b1b2b3b4c1c2c3c4d1d2d3d4");
  auto e = make();
  e.on_packet(udp_path, req, t0);
  ASSERT_EQ(sink.out.size(), 1u);
  const bytes& r = sink.out[0].data;
  EXPECT_EQ(test::to_hex(std::span(r).first(4)), "0101000c");
  EXPECT_EQ(test::to_hex(std::span(r).subspan(4, 16)), test::to_hex(std::span(req).subspan(4, 16)));
  EXPECT_EQ(*p::decode_address(std::span(r).subspan(24, 8)), udp_path.remote);
  EXPECT_EQ(e.counters().binding_classic, 1u);

  sink.out.clear();
  auto strict = make({.backward_compatibility = false});
  strict.on_packet(udp_path, req, t0);
  EXPECT_TRUE(sink.out.empty());
  EXPECT_EQ(strict.counters().dropped_malformed, 1u);
}

TEST_F(EngineTest, UnknownComprehensionRequiredGets420) {
  auto e = make();
  e.on_packet(udp_path,
              request(p::method::binding,
                      [](auto& b) {
                        b.add(0x7777, std::string_view("x"));
                        b.add(0x8888, std::string_view("optional is fine"));
                        b.add_fingerprint();
                      }),
              t0);
  auto m = only_reply();
  EXPECT_EQ(error_code_of(m), 420);
  auto u = p::decode_unknown_attributes(m.find(p::attr::unknown_attributes)->value);
  ASSERT_EQ(u->size(), 1u);
  EXPECT_EQ((*u)[0], 0x7777);
  EXPECT_TRUE(p::check_fingerprint(m));
}

TEST_F(EngineTest, BrokenAttributesGet400GarbageIsDropped) {
  auto e = make();
  // Sound header, attribute claiming more bytes than the message has.
  bytes req = test::from_hex("000100082112a442");
  req.insert(req.end(), tid.begin(), tid.end());
  const bytes attr = test::from_hex("8022000861626364");
  req.insert(req.end(), attr.begin(), attr.end());
  e.on_packet(udp_path, req, t0);
  EXPECT_EQ(error_code_of(only_reply()), 400);
  EXPECT_EQ(e.counters().dropped_malformed, 1u);

  sink.out.clear();
  for (const char* junk : {"", "00", "ffffffffffffffffffffffffffffffffffffffff", "000100042112a442",
                           "0001000401020304050607080910111213141516"}) {
    e.on_packet(udp_path, test::from_hex(junk), t0);
  }
  EXPECT_TRUE(sink.out.empty());
  EXPECT_EQ(e.counters().dropped_malformed, 1u + 5u);
}

TEST_F(EngineTest, BadFingerprintIndicationResponseChannelDataDropped) {
  auto e = make();
  bytes bad = binding(true);
  bad.back() ^= 0xff;
  e.on_packet(udp_path, bad, t0);
  e.on_packet(udp_path,
              request(
                  p::method::binding, [](auto&) {}, p::msg_class::indication),
              t0);
  e.on_packet(udp_path,
              request(
                  p::method::binding, [](auto&) {}, p::msg_class::success_response),
              t0);
  e.on_packet(udp_path, test::from_hex("4000000401020304"), t0);
  EXPECT_TRUE(sink.out.empty());
  EXPECT_EQ(e.counters().dropped_bad_fingerprint, 1u);
  EXPECT_EQ(e.counters().dropped_not_request, 2u);
  EXPECT_EQ(e.counters().dropped_channel_data, 1u);
  EXPECT_EQ(e.counters().packets_in, 4u);
}

TEST_F(EngineTest, TurnMethodsRefusedUntilImplemented) {
  auto e = make();
  e.on_packet(udp_path,
              request(p::method::allocate,
                      [](auto& b) { p::add_requested_transport(b, p::transport_udp); }),
              t0);
  auto m = only_reply();
  EXPECT_EQ(m.method_code(), static_cast<std::uint16_t>(p::method::allocate));
  EXPECT_EQ(error_code_of(m), 400);
}

TEST_F(EngineTest, NoStunLeavesBindingUnanswered) {
  auto e = make({.answer_binding = false});
  e.on_packet(udp_path, binding(), t0);
  EXPECT_TRUE(sink.out.empty());
  EXPECT_EQ(e.counters().dropped_unanswered, 1u);
}

TEST_F(EngineTest, ChangeRequestWithoutAlternateGets420) {
  auto e = make();
  e.on_packet(udp_path,
              request(p::method::binding,
                      [](auto& b) {
                        p::add_change_request(b, {true, true});
                        p::add_response_port(b, 5000);
                      }),
              t0);
  auto m = only_reply();
  EXPECT_EQ(error_code_of(m), 420);
  auto u = p::decode_unknown_attributes(m.find(p::attr::unknown_attributes)->value);
  ASSERT_EQ(u->size(), 2u);
  EXPECT_EQ((*u)[0], p::attr::change_request);
  EXPECT_EQ((*u)[1], p::attr::response_port);
}

class Rfc5780Test : public EngineTest {
 protected:
  engine_settings settings() {
    engine_settings s;
    engine_settings::rfc5780_addresses r;
    r.other_ip = {{addr("127.0.0.1", 0), addr("127.0.0.2", 0)},
                  {addr("127.0.0.2", 0), addr("127.0.0.1", 0)}};
    r.port = 3478;
    r.alt_port = 3479;
    s.rfc5780 = r;
    return s;
  }
  bytes change(bool ip, bool port) {
    return request(p::method::binding, [&](auto& b) { p::add_change_request(b, {ip, port}); });
  }
};

TEST_F(Rfc5780Test, ResponseOriginAndOtherAddress) {
  auto e = make(settings());
  e.on_packet(udp_path, binding(), t0);
  auto m = only_reply();
  EXPECT_EQ(*p::decode_address(m.find(p::attr::response_origin)->value), addr("127.0.0.1", 3478));
  EXPECT_EQ(*p::decode_address(m.find(p::attr::other_address)->value), addr("127.0.0.2", 3479));
}

TEST_F(Rfc5780Test, ChangeRequestPicksTheSocket) {
  struct {
    bool ip, port;
    const char* from_ip;
    std::uint16_t from_port;
  } cases[] = {{false, false, "127.0.0.1", 3478},
               {true, false, "127.0.0.2", 3478},
               {false, true, "127.0.0.1", 3479},
               {true, true, "127.0.0.2", 3479}};
  auto e = make(settings());
  for (const auto& c : cases) {
    sink.out.clear();
    e.on_packet(udp_path, change(c.ip, c.port), t0);
    auto m = only_reply();
    EXPECT_EQ(sink.out[0].path.local, addr(c.from_ip, c.from_port));
    EXPECT_EQ(sink.out[0].path.remote, udp_path.remote);
    EXPECT_EQ(*p::decode_address(m.find(p::attr::response_origin)->value),
              addr(c.from_ip, c.from_port));
    // OTHER-ADDRESS describes the address the request came to, not the one answering.
    EXPECT_EQ(*p::decode_address(m.find(p::attr::other_address)->value), addr("127.0.0.2", 3479));
  }
}

TEST_F(Rfc5780Test, ResponsePortAndPadding) {
  auto e = make(settings());
  e.on_packet(udp_path,
              request(p::method::binding,
                      [](auto& b) {
                        p::add_response_port(b, 41000);
                        p::add_padding(b, 200);
                      }),
              t0);
  auto m = only_reply();
  EXPECT_EQ(sink.out[0].path.remote, addr("192.0.2.7", 41000));
  EXPECT_EQ(m.find(p::attr::padding)->value.size(), 200u);
  sink.out.clear();
  e.on_packet(udp_path, request(p::method::binding, [](auto& b) { p::add_response_port(b, 0); }),
              t0);
  EXPECT_EQ(error_code_of(only_reply()), 400);
}

TEST_F(Rfc5780Test, StreamsCannotBeRedirected) {
  auto e = make(settings());
  const five_tuple tcp{transport::tcp, udp_path.local, udp_path.remote};
  e.on_packet(tcp, change(true, false), t0);
  EXPECT_EQ(error_code_of(only_reply()), 400);
  sink.out.clear();
  e.on_packet(tcp, request(p::method::binding, [](auto& b) { p::add_padding(b, 64); }), t0);
  EXPECT_FALSE(only_reply().find(p::attr::padding));  // PADDING is a UDP matter
}

TEST_F(Rfc5780Test, ChangeIpWithoutPartnerIs400) {
  auto e = make(settings());
  const five_tuple lonely{transport::udp, addr("10.1.1.1", 3478), udp_path.remote};
  e.on_packet(lonely, change(true, false), t0);
  EXPECT_EQ(error_code_of(only_reply()), 400);
}

TEST_F(EngineTest, RecordedChromiumBindingRequestsAnswered) {
  auto e = make();
  std::size_t requests = 0;
  for (const auto& r : test::load_capture("chromium-turn-udp")) {
    if (!r.from_client || r.payload.size() < 2 || r.payload[0] != 0x00 || r.payload[1] != 0x01) {
      continue;
    }
    ++requests;
    e.on_packet(udp_path, r.payload, t0);
  }
  ASSERT_GT(requests, 0u);
  EXPECT_EQ(sink.out.size(), requests);
  for (const auto& s : sink.out) {
    auto m = p::message_view::parse(s.data);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->cls(), p::msg_class::success_response);
  }
}

}  // namespace
}  // namespace turnpike::server::engine
