// SPDX-License-Identifier: Apache-2.0
// RFC 5769 test vectors: sample request, IPv4 and IPv6 responses, long-term authentication.
#include <gtest/gtest.h>

#include "protocol/attr_address.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/builder.hpp"
#include "protocol/integrity.hpp"
#include "protocol/long_term_key.hpp"
#include "protocol/message.hpp"
#include "support/hex.hpp"

namespace turnpike::protocol {
namespace {

using test::as_bytes;
using test::from_hex;

// RFC 5769 section 2.1; short-term password "VOkJxbRl1RmTxUk/WvJxBt".
const auto sample_request = from_hex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e207465737420636c69656e74"
    "002400046e0001ff"
    "80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf");

// Section 2.2.
const auto ipv4_response = from_hex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96");

// Section 2.3.
const auto ipv6_response = from_hex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "00200014000"
    "2a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c");

// Section 2.4: username and realm are not SASLprep-sensitive; the password is.
const auto long_term_request = from_hex(
    "000100602112a44278ad3433c6ad72c029da412e"
    "00060012e3839ee38388e383aae38383e382afe382b90000"
    "0015001c662f2f3439396b39353464364f4c33346f4c39465354767936347341"
    "0014000b6578616d706c652e6f726700"
    "00080014f67024656dd64a3e02b8e0712e85c9a28ca89666");

const std::string short_term_password = "VOkJxbRl1RmTxUk/WvJxBt";

TEST(Rfc5769, SampleRequestParsesAndVerifies) {
  auto m = message_view::parse(sample_request);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_TRUE(m->is(method::binding, msg_class::request));
  auto sw = m->find(attr::software);
  ASSERT_TRUE(sw);
  EXPECT_EQ(*decode_text(attr::software, sw->value), "STUN test client");
  auto user = m->find(attr::username);
  ASSERT_TRUE(user);
  EXPECT_EQ(*decode_text(attr::username, user->value), "evtj:h6vY");
  EXPECT_TRUE(check_fingerprint(*m));
  EXPECT_TRUE(check_message_integrity(*m, as_bytes(short_term_password)));
  EXPECT_FALSE(check_message_integrity(*m, as_bytes("wrong")));
}

TEST(Rfc5769, Ipv4ResponseMappedAddress) {
  auto m = message_view::parse(ipv4_response);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is(method::binding, msg_class::success_response));
  auto xma = m->find(attr::xor_mapped_address);
  ASSERT_TRUE(xma);
  auto a = decode_xor_address(xma->value, m->tid_bytes());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "192.0.2.1:32853");
  EXPECT_TRUE(check_fingerprint(*m));
  EXPECT_TRUE(check_message_integrity(*m, as_bytes(short_term_password)));
}

TEST(Rfc5769, Ipv6ResponseMappedAddress) {
  auto m = message_view::parse(ipv6_response);
  ASSERT_TRUE(m);
  auto xma = m->find(attr::xor_mapped_address);
  ASSERT_TRUE(xma);
  auto a = decode_xor_address(xma->value, m->tid_bytes());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
  EXPECT_TRUE(check_fingerprint(*m));
  EXPECT_TRUE(check_message_integrity(*m, as_bytes(short_term_password)));
}

TEST(Rfc5769, LongTermAuthentication) {
  auto m = message_view::parse(long_term_request);
  ASSERT_TRUE(m);
  const std::string username = "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9";
  EXPECT_EQ(*decode_text(attr::username, m->find(attr::username)->value), username);
  EXPECT_EQ(*decode_text(attr::nonce, m->find(attr::nonce)->value), "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(*decode_text(attr::realm, m->find(attr::realm)->value), "example.org");
  const auto password = opaque_string("The\u00ADM\u00AAtr\u2168");
  ASSERT_TRUE(password);
  EXPECT_EQ(*password, "TheMatrIX");
  const auto key = long_term_key_md5(username, "example.org", *password);
  EXPECT_TRUE(check_message_integrity(*m, key));
  const auto wrong = long_term_key_md5(username, "example.org", "TheMatrix");
  EXPECT_FALSE(check_message_integrity(*m, wrong));
}

// The builder reproduces the IPv4 response byte for byte once SOFTWARE is padded with zeros
// (RFC 5769 pads with spaces; RFC 8489 says padding is zero on send and ignored on receipt).
TEST(Rfc5769, BuilderReproducesIpv4Response) {
  auto m = message_view::parse(ipv4_response);
  ASSERT_TRUE(m);
  std::array<std::uint8_t, 128> buf{};
  message_builder b(buf, method::binding, msg_class::success_response, m->tid_bytes());
  add_text(b, attr::software, "test vector");
  add_xor_address(b, attr::xor_mapped_address, *transport_address::parse_ip("192.0.2.1", 32853));
  b.add_message_integrity(as_bytes(short_term_password));
  b.add_fingerprint();
  auto out = b.finish();
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), ipv4_response.size());
  // Up to SOFTWARE's padding the bytes are the vector's.
  EXPECT_EQ(test::to_hex(out->first(20 + 4 + 11)),
            test::to_hex(std::span(ipv4_response).first(35)));
  EXPECT_EQ(test::to_hex(out->subspan(36, 12)),
            test::to_hex(std::span(ipv4_response).subspan(36, 12)));
  auto again = message_view::parse(*out);
  ASSERT_TRUE(again);
  EXPECT_TRUE(check_message_integrity(*again, as_bytes(short_term_password)));
  EXPECT_TRUE(check_fingerprint(*again));
}

}  // namespace
}  // namespace turnpike::protocol
