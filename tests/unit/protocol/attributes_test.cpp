// SPDX-License-Identifier: Apache-2.0
// Attribute codecs: round trips and every decode error.
#include <gtest/gtest.h>

#include "protocol/attr_address.hpp"
#include "protocol/attr_auth.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_nat.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/channel_data.hpp"
#include "protocol/error.hpp"
#include "protocol/message.hpp"
#include "support/hex.hpp"

namespace turnpike::protocol {
namespace {

using test::bytes;
using test::from_hex;

const std::array<std::uint8_t, 12> tid{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// Builds a message with whatever `fill` adds and returns the first attribute's value bytes.
template <class F>
bytes encode(F&& fill) {
  std::array<std::uint8_t, 1024> buf{};
  message_builder b(buf, method::binding, msg_class::request, tid);
  fill(b);
  auto out = b.finish();
  if (!out) throw std::runtime_error(out.error().message());
  auto m = message_view::parse(*out);
  if (!m) throw std::runtime_error("built message does not parse");
  auto a = *m->attributes().begin();
  return bytes(a.value.begin(), a.value.end());
}

TEST(Address, RoundTripsPlainAndXor) {
  for (const char* ip : {"192.0.2.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::1"}) {
    const auto a = *transport_address::parse_ip(ip, 40000);
    auto plain = encode([&](auto& b) { add_address(b, attr::mapped_address, a); });
    EXPECT_EQ(*decode_address(plain), a) << ip;
    auto x = encode([&](auto& b) { add_xor_address(b, attr::xor_mapped_address, a); });
    EXPECT_NE(x, plain);
    EXPECT_EQ(*decode_xor_address(x, tid), a) << ip;
  }
}

TEST(Address, DecodeErrors) {
  EXPECT_EQ(decode_address(from_hex("0001")).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_address(from_hex("0003 1234 01020304")).error(), errc::bad_address_family);
  EXPECT_EQ(decode_address(from_hex("0001 1234 010203")).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_address(from_hex("0001 1234 0102030405")).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_address(from_hex("0002 1234 01020304")).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_xor_address(from_hex("0001 1234 01020304"), std::span(tid).first(4)).error(),
            errc::bad_attribute_value);
}

TEST(ErrorCode, RoundTripAndReasons) {
  auto v = encode([](auto& b) { add_error_code(b, 438, default_reason(438)); });
  auto e = decode_error_code(v);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 438);
  EXPECT_EQ(e->reason, "Stale Nonce");
  for (int code :
       {300, 400, 401, 403, 405, 420, 437, 438, 440, 441, 442, 443, 446, 447, 486, 500, 508}) {
    EXPECT_FALSE(default_reason(code).empty()) << code;
  }
  EXPECT_TRUE(default_reason(499).empty());
  auto empty = encode([](auto& b) { add_error_code(b, 401, ""); });
  EXPECT_EQ(decode_error_code(empty)->reason, "");
  // A default string_view (null data) is an empty reason too.
  auto null_reason = encode([](auto& b) { add_error_code(b, 401, std::string_view{}); });
  EXPECT_EQ(null_reason, empty);
}

TEST(ErrorCode, DecodeErrors) {
  EXPECT_EQ(decode_error_code(from_hex("000004")).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_error_code(from_hex("00000201")).error(), errc::bad_attribute_value);  // 201
  EXPECT_EQ(decode_error_code(from_hex("00000764")).error(), errc::bad_attribute_value);  // 7xx
  EXPECT_EQ(decode_error_code(from_hex("00000464")).error(), errc::bad_attribute_value);  // 4.100
  EXPECT_EQ(decode_error_code(from_hex("00000400ff")).error(), errc::bad_attribute_value);
  std::array<std::uint8_t, 64> buf{};
  message_builder b(buf, method::binding, msg_class::error_response, tid);
  add_error_code(b, 200, "OK");
  EXPECT_EQ(b.error(), errc::bad_attribute_value);
}

TEST(ErrorCode, UnknownAttributesAndAddressError) {
  const std::array<std::uint16_t, 3> types{0x7777, 0x0aaa, 0x0001};
  auto v = encode([&](auto& b) { add_unknown_attributes(b, types); });
  auto u = decode_unknown_attributes(v);
  ASSERT_TRUE(u);
  ASSERT_EQ(u->size(), 3u);
  EXPECT_EQ((*u)[0], 0x7777);
  EXPECT_EQ((*u)[2], 0x0001);
  EXPECT_EQ(decode_unknown_attributes(from_hex("000100")).error(), errc::bad_attribute_length);

  auto ae = encode(
      [](auto& b) { add_address_error_code(b, address_family::ipv6, 440, default_reason(440)); });
  auto d = decode_address_error_code(ae);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->family, address_family::ipv6);
  EXPECT_EQ(d->code, 440);
  EXPECT_EQ(decode_address_error_code(from_hex("03000440")).error(), errc::bad_address_family);
  EXPECT_EQ(decode_address_error_code(from_hex("0100")).error(), errc::bad_attribute_length);
}

TEST(Text, Limits) {
  EXPECT_TRUE(decode_text(attr::realm, test::as_bytes(std::string(127, 'a'))));
  EXPECT_EQ(decode_text(attr::realm, test::as_bytes(std::string(128, 'a'))).error(),
            errc::value_too_long);
  // 127 three-byte characters: 381 bytes, within both limits.
  std::string wide;
  for (int i = 0; i < 127; ++i) wide += "\u30DE";
  EXPECT_TRUE(decode_text(attr::nonce, test::as_bytes(wide)));
  EXPECT_EQ(decode_text(attr::nonce, test::as_bytes(wide + "\u30DE")).error(),
            errc::value_too_long);
  EXPECT_TRUE(decode_text(attr::username, test::as_bytes(std::string(512, 'u'))));
  EXPECT_EQ(decode_text(attr::username, test::as_bytes(std::string(513, 'u'))).error(),
            errc::value_too_long);
  EXPECT_EQ(decode_text(attr::alternate_domain, test::as_bytes(std::string(256, 'd'))).error(),
            errc::value_too_long);
  EXPECT_EQ(decode_text(attr::software, from_hex("ff")).error(), errc::bad_attribute_value);
  EXPECT_EQ(decode_text(attr::software, from_hex("e383")).error(), errc::bad_attribute_value);
  EXPECT_EQ(decode_text(attr::software, from_hex("c0af")).error(), errc::bad_attribute_value);
  std::array<std::uint8_t, 1024> buf{};
  message_builder b(buf, method::binding, msg_class::request, tid);
  add_text(b, attr::software, std::string(200, 's'));
  EXPECT_EQ(b.error(), errc::value_too_long);
}

TEST(Turn, FixedSizeAttributes) {
  EXPECT_EQ(*decode_channel_number(encode([](auto& b) { add_channel_number(b, 0x4001); })), 0x4001);
  EXPECT_EQ(decode_channel_number(from_hex("4001")).error(), errc::bad_attribute_length);
  EXPECT_EQ(*decode_u32(encode([](auto& b) { b.add_u32(attr::lifetime, 600); })), 600u);
  EXPECT_EQ(decode_u32(from_hex("000258")).error(), errc::bad_attribute_length);
  EXPECT_EQ(*decode_requested_transport(
                encode([](auto& b) { add_requested_transport(b, transport_udp); })),
            17);
  EXPECT_EQ(decode_requested_transport(from_hex("11")).error(), errc::bad_attribute_length);
  EXPECT_EQ(*decode_address_family(encode([](auto& b) {
    add_address_family(b, attr::requested_address_family, address_family::ipv6);
  })),
            address_family::ipv6);
  EXPECT_EQ(decode_address_family(from_hex("03000000")).error(), errc::bad_address_family);
  EXPECT_EQ(decode_address_family(from_hex("01")).error(), errc::bad_attribute_length);
  EXPECT_TRUE(*decode_even_port(encode([](auto& b) { add_even_port(b, true); })));
  EXPECT_FALSE(*decode_even_port(encode([](auto& b) { add_even_port(b, false); })));
  EXPECT_EQ(decode_even_port(from_hex("8000")).error(), errc::bad_attribute_length);
  EXPECT_TRUE(*decode_dont_fragment({}));
  EXPECT_EQ(decode_dont_fragment(from_hex("00")).error(), errc::bad_attribute_length);
  auto tok = decode_reservation_token(from_hex("0102030405060708"));
  ASSERT_TRUE(tok);
  EXPECT_EQ((*tok)[7], 8);
  EXPECT_EQ(decode_reservation_token(from_hex("01020304")).error(), errc::bad_attribute_length);
  const icmp_value icmp{3, 1, 0xdeadbeef};
  EXPECT_EQ(*decode_icmp(encode([&](auto& b) { add_icmp(b, icmp); })), icmp);
  EXPECT_EQ(decode_icmp(from_hex("00000301")).error(), errc::bad_attribute_length);
}

TEST(Auth, PasswordAlgorithms) {
  const std::array<password_algorithm, 2> algs{password_algorithm::md5, password_algorithm::sha256};
  auto v = encode([&](auto& b) { add_password_algorithms(b, algs); });
  EXPECT_EQ(test::to_hex(v), "0001000000020000");
  auto view = decode_password_algorithms(v);
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->contains(1));
  EXPECT_TRUE(view->contains(2));
  EXPECT_FALSE(view->contains(3));
  int n = 0;
  view->for_each([&](const password_algorithm_value&) { ++n; });
  EXPECT_EQ(n, 2);
  // An unknown algorithm with 3 bytes of parameters, padded.
  const bytes params = from_hex(
      "0009000361626300"
      "00010000");
  auto with_params = decode_password_algorithms(params);
  ASSERT_TRUE(with_params);
  EXPECT_TRUE(with_params->contains(1));
  EXPECT_EQ(decode_password_algorithms(from_hex("000100")).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_password_algorithms(from_hex("00010008aabbccdd")).error(),
            errc::bad_attribute_length);
  EXPECT_EQ(decode_password_algorithms({}).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_password_algorithm(from_hex("0002")).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_password_algorithm(from_hex("00020004")).error(), errc::bad_attribute_length);
  EXPECT_EQ(decode_userhash(from_hex("00")).error(), errc::bad_attribute_length);
}

TEST(Nat, ChangeRequestResponsePortPaddingMobility) {
  for (bool ip : {false, true}) {
    for (bool port : {false, true}) {
      const change_request_value v{ip, port};
      EXPECT_EQ(*decode_change_request(encode([&](auto& b) { add_change_request(b, v); })), v);
    }
  }
  EXPECT_EQ(decode_change_request(from_hex("0006")).error(), errc::bad_attribute_length);
  EXPECT_EQ(*decode_response_port(encode([](auto& b) { add_response_port(b, 5555); })), 5555);
  EXPECT_EQ(decode_response_port(from_hex("15b3")).error(), errc::bad_attribute_length);
  EXPECT_EQ(encode([](auto& b) { add_padding(b, 9); }), bytes(9, 0));
  EXPECT_TRUE(decode_mobility_ticket(from_hex("01")));
  EXPECT_EQ(decode_mobility_ticket({}).error(), errc::bad_attribute_length);
}

TEST(ChannelData, ParseAndWrite) {
  std::array<std::uint8_t, 16> buf{};
  const bytes data = test::as_bytes("hello");
  auto n = write_channel_data(buf, 0x4000, data, true);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 12u);
  EXPECT_EQ(test::to_hex(std::span(buf).first(12)), "4000000568656c6c6f000000");
  auto v = parse_channel_data(std::span(buf).first(12));  // padding accepted over UDP
  ASSERT_TRUE(v);
  EXPECT_EQ(v->channel, 0x4000);
  EXPECT_EQ(bytes(v->data.begin(), v->data.end()), data);
  EXPECT_EQ(*write_channel_data(buf, 0x7fff, data, false), 9u);
  EXPECT_EQ(parse_channel_data(std::span(buf).first(8)).error(), errc::truncated);
  EXPECT_EQ(parse_channel_data(std::span(buf).first(3)).error(), errc::truncated);
  EXPECT_EQ(parse_channel_data(from_hex("00010000")).error(), errc::not_channel_data);
  EXPECT_EQ(write_channel_data(buf, 0x3fff, data, true).error(), errc::bad_channel_number);
  EXPECT_EQ(write_channel_data(std::span(buf).first(8), 0x4000, data, true).error(),
            errc::buffer_too_small);
}

TEST(Names, KnownAttributesAndMethods) {
  EXPECT_STREQ(attribute_name(attr::xor_relayed_address), "XOR-RELAYED-ADDRESS");
  EXPECT_STREQ(attribute_name(attr::mobility_ticket), "MOBILITY-TICKET");
  EXPECT_EQ(attribute_name(0x7777), nullptr);
  EXPECT_STREQ(method_name(0x00A), "connect");
  EXPECT_EQ(method_name(0x0FF), nullptr);
  EXPECT_FALSE(transport_address::parse_ip("300.1.1.1"));
  EXPECT_FALSE(transport_address::parse_ip(""));
  EXPECT_EQ(transport_address::v4(0x7f000001, 1).to_string(), "127.0.0.1:1");
}

}  // namespace
}  // namespace turnpike::protocol
