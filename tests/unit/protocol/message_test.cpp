// SPDX-License-Identifier: Apache-2.0
// message_view and message_builder: every error path of the parser, integrity-ordering rules,
// unknown comprehension-required attributes, builder overflow.
#include <gtest/gtest.h>

#include "protocol/builder.hpp"
#include "protocol/error.hpp"
#include "protocol/integrity.hpp"
#include "protocol/message.hpp"
#include "support/hex.hpp"

namespace turnpike::protocol {
namespace {

using test::bytes;
using test::from_hex;

const std::array<std::uint8_t, 12> tid{0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                       0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

// Header for a Binding request with `length` bytes of attributes, followed by `attrs`.
bytes msg(std::uint16_t length, std::string_view attrs_hex) {
  bytes m = from_hex("0001");
  m.push_back(static_cast<std::uint8_t>(length >> 8));
  m.push_back(static_cast<std::uint8_t>(length));
  const bytes rest = from_hex("2112a442");
  m.insert(m.end(), rest.begin(), rest.end());
  m.insert(m.end(), tid.begin(), tid.end());
  const bytes a = from_hex(attrs_hex);
  m.insert(m.end(), a.begin(), a.end());
  return m;
}

std::error_code parse_error(const bytes& b) {
  auto r = message_view::parse(b);
  return r ? std::error_code{} : r.error();
}

TEST(MessageParse, MinimalBindingRequest) {
  const bytes b = msg(0, "");
  auto r = message_view::parse(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method_code(), 0x001);
  EXPECT_EQ(r->cls(), msg_class::request);
  EXPECT_EQ(r->tid(), tid);
  EXPECT_EQ(r->attributes().begin(), r->attributes().end());
}

TEST(MessageParse, ErrorPaths) {
  EXPECT_EQ(parse_error(bytes{}), errc::truncated);
  EXPECT_EQ(parse_error(bytes(19, 0)), errc::truncated);
  bytes b = msg(0, "");
  b[0] = 0x80;
  EXPECT_EQ(parse_error(b), errc::not_stun);
  b = msg(0, "");
  b[0] = 0x40;
  EXPECT_EQ(parse_error(b), errc::not_stun);
  EXPECT_EQ(parse_error(msg(2, "0000")), errc::bad_length);      // not a multiple of four
  EXPECT_EQ(parse_error(msg(8, "80220000")), errc::truncated);   // length past the datagram
  EXPECT_EQ(parse_error(msg(0, "80220000")), errc::bad_length);  // bytes past the length
  b = msg(0, "");
  b[4] = 0;
  EXPECT_EQ(parse_error(b), errc::bad_magic_cookie);
  EXPECT_EQ(parse_error(msg(4, "80220004")), errc::attribute_overflow);
  EXPECT_EQ(parse_error(msg(8, "8022000561626364")), errc::attribute_overflow);  // padding
  EXPECT_EQ(parse_error(msg(16,
                            "8028000400000000"
                            "8022000461626364")),
            errc::attribute_after_fingerprint);
  EXPECT_EQ(parse_error(msg(12,
                            "80280008"
                            "0000000000000000")),
            errc::bad_attribute_length);
  EXPECT_EQ(parse_error(msg(8,
                            "00080004"
                            "00000000")),
            errc::bad_attribute_length);
  EXPECT_EQ(parse_error(msg(16,
                            "001c000c"
                            "000000000000000000000000")),
            errc::bad_attribute_length);
  EXPECT_EQ(parse_error(msg(24,
                            "001c0012"
                            "00000000000000000000000000000000"
                            "00000000")),
            errc::bad_attribute_length);
  EXPECT_EQ(parse_error(msg(40, "001c0024" + std::string(72, '0'))), errc::bad_attribute_length);
}

TEST(MessageParse, EveryTruncationOfAValidMessageFails) {
  std::array<std::uint8_t, 128> buf{};
  message_builder b(buf, method::binding, msg_class::request, tid);
  b.add(attr::software, std::string_view("hello"));
  b.add_message_integrity(test::as_bytes("k")).add_fingerprint();
  auto full = b.finish();
  ASSERT_TRUE(full);
  ASSERT_TRUE(message_view::parse(*full));
  for (std::size_t n = 0; n < full->size(); ++n) {
    EXPECT_FALSE(message_view::parse(full->first(n))) << n;
  }
}

TEST(MessageParse, AttributesAfterIntegrityAreIgnored) {
  // SOFTWARE "a", MESSAGE-INTEGRITY, REALM "r" (ignored), FINGERPRINT.
  std::array<std::uint8_t, 128> buf{};
  message_builder b(buf, method::binding, msg_class::request, tid);
  b.add(attr::software, std::string_view("a"));
  b.add_message_integrity(test::as_bytes("k"));
  b.add(attr::realm, std::string_view("r"));
  b.add_fingerprint();
  auto out = b.finish();
  ASSERT_TRUE(out);
  auto m = message_view::parse(*out);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->find(attr::software));
  EXPECT_FALSE(m->find(attr::realm));
  EXPECT_TRUE(m->message_integrity());
  EXPECT_TRUE(m->fingerprint());
  EXPECT_TRUE(check_message_integrity(*m, test::as_bytes("k")));
  EXPECT_TRUE(check_fingerprint(*m));
  int count = 0;
  for (const attribute& a : m->attributes()) {
    (void)a;
    ++count;
  }
  EXPECT_EQ(count, 4);
}

TEST(MessageParse, DuplicateAttributesFirstWins) {
  const bytes b = msg(16,
                      "8022000161000000"
                      "8022000162000000");
  auto m = message_view::parse(b);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->find(attr::software)->value[0], 'a');
}

TEST(MessageParse, UnknownComprehensionRequired) {
  // 0x7777 twice (reported once), 0x0024 PRIORITY (known), 0x9999 optional (not reported).
  const bytes b = msg(28,
                      "7777000000240004000000009999000077770000"
                      "00aa0004"
                      "00000000");
  auto m = message_view::parse(b);
  ASSERT_TRUE(m);
  std::array<std::uint16_t, 4> out{};
  EXPECT_EQ(m->unknown_comprehension_required(out), 2u);
  EXPECT_EQ(out[0], 0x7777);
  EXPECT_EQ(out[1], 0x00aa);
  std::array<std::uint16_t, 1> small{};
  EXPECT_GE(m->unknown_comprehension_required(small), 2u);
  EXPECT_EQ(small[0], 0x7777);
}

TEST(MessageParse, FingerprintMismatchDetected) {
  std::array<std::uint8_t, 64> buf{};
  message_builder b(buf, method::binding, msg_class::request, tid);
  b.add_fingerprint();
  auto out = b.finish();
  ASSERT_TRUE(out);
  bytes copy(out->begin(), out->end());
  copy[10] ^= 1;
  auto m = message_view::parse(copy);
  ASSERT_TRUE(m);
  EXPECT_FALSE(check_fingerprint(*m));
  const bytes empty = msg(0, "");
  auto none = message_view::parse(empty);
  EXPECT_FALSE(check_fingerprint(*none));
  EXPECT_FALSE(check_message_integrity(*none, test::as_bytes("k")));
}

TEST(MessageType, EncodingRoundTrips) {
  EXPECT_EQ(make_message_type(method::binding, msg_class::request), 0x0001);
  EXPECT_EQ(make_message_type(method::binding, msg_class::success_response), 0x0101);
  EXPECT_EQ(make_message_type(method::binding, msg_class::error_response), 0x0111);
  EXPECT_EQ(make_message_type(method::allocate, msg_class::request), 0x0003);
  EXPECT_EQ(make_message_type(method::send, msg_class::indication), 0x0016);
  EXPECT_EQ(make_message_type(method::data, msg_class::indication), 0x0017);
  EXPECT_EQ(make_message_type(method::connection_attempt, msg_class::indication), 0x001c);
  for (std::uint16_t m = 0; m < 0x1000; ++m) {
    for (auto c : {msg_class::request, msg_class::indication, msg_class::success_response,
                   msg_class::error_response}) {
      const auto t = make_message_type(m, c);
      EXPECT_EQ(method_of(t), m);
      EXPECT_EQ(class_of(t), c);
    }
  }
}

TEST(Builder, OverflowIsSticky) {
  std::array<std::uint8_t, 28> buf{};
  message_builder b(buf, method::binding, msg_class::request, tid);
  b.add(attr::software, std::string_view("abcd"));  // exactly fills 28 bytes
  EXPECT_FALSE(b.error());
  b.add(attr::realm, std::string_view("x"));
  EXPECT_EQ(b.error(), errc::buffer_too_small);
  b.add_fingerprint();
  EXPECT_EQ(b.finish().error(), errc::buffer_too_small);
  EXPECT_EQ(b.size(), 28u);

  std::array<std::uint8_t, 10> tiny{};
  message_builder t(tiny, method::binding, msg_class::request, tid);
  EXPECT_EQ(t.finish().error(), errc::buffer_too_small);
}

TEST(Builder, PaddingIsZeroAndLengthTracked) {
  std::array<std::uint8_t, 64> buf;
  buf.fill(0xEE);
  message_builder b(buf, method::binding, msg_class::request, tid);
  b.add(attr::software, std::string_view("abcde"));
  auto out = b.finish();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->size(), 32u);
  EXPECT_EQ(load_u16(out->data() + 2), 12);
  EXPECT_EQ(test::to_hex(out->subspan(24)), "6162636465000000");
}

}  // namespace
}  // namespace turnpike::protocol
