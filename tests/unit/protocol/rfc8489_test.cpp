// SPDX-License-Identifier: Apache-2.0
// RFC 8489 Appendix B.1 (with erratum 6268): MESSAGE-INTEGRITY-SHA256, USERHASH,
// PASSWORD-ALGORITHM and the nonce cookie.
#include <gtest/gtest.h>

#include "protocol/attr_auth.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/builder.hpp"
#include "protocol/integrity.hpp"
#include "protocol/long_term_key.hpp"
#include "protocol/message.hpp"
#include "support/hex.hpp"

namespace turnpike::protocol {
namespace {

using test::from_hex;

const auto request = from_hex(
    "000100902112a44278ad3433c6ad72c029da412e"
    "001e00204a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704"
    "001500296f624d61744a6f733241414143662f2f3439396b39353464364f4c33346f4c39"
    "4653547679363473410000"
    "00"
    "0014000b6578616d706c652e6f726700"
    "001d000400020000"
    "001c0020b5c7bf005b6c52a21c51c5e892f81924136296cb927c431493"
    "09278cc6518e65");

const std::string username = "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9";
const std::string realm = "example.org";
const std::string nonce = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";

TEST(Rfc8489AppendixB, ParsesAndVerifiesSha256) {
  auto m = message_view::parse(request);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(*decode_text(attr::nonce, m->find(attr::nonce)->value), nonce);
  EXPECT_EQ(*decode_text(attr::realm, m->find(attr::realm)->value), realm);
  auto alg = decode_password_algorithm(m->find(attr::password_algorithm)->value);
  ASSERT_TRUE(alg);
  EXPECT_EQ(alg->algorithm, static_cast<std::uint16_t>(password_algorithm::sha256));
  EXPECT_TRUE(alg->parameters.empty());

  const auto password = opaque_string("The\u00ADM\u00AAtr\u2168");
  ASSERT_TRUE(password);
  const auto key = long_term_key_sha256(username, realm, *password);
  EXPECT_TRUE(check_message_integrity_sha256(*m, key));
  const auto md5 = long_term_key_md5(username, realm, *password);
  EXPECT_FALSE(check_message_integrity_sha256(*m, md5));
  EXPECT_FALSE(check_message_integrity(*m, md5));  // no MESSAGE-INTEGRITY at all
}

TEST(Rfc8489AppendixB, UserhashMatches) {
  auto m = message_view::parse(request);
  ASSERT_TRUE(m);
  auto h = decode_userhash(m->find(attr::userhash)->value);
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, userhash(username, realm));
}

TEST(Rfc8489AppendixB, NonceCookie) {
  auto bits = parse_nonce_cookie(nonce);
  ASSERT_TRUE(bits);
  EXPECT_EQ(*bits, 0x000002u);
  std::array<char, nonce_cookie_size> out{};
  write_nonce_cookie(security_feature::password_algorithms | security_feature::username_anonymity,
                     out);
  EXPECT_EQ(std::string(out.data(), out.size()), "obMatJos2wAAA");
  EXPECT_EQ(*parse_nonce_cookie("obMatJos2wAAArest"),
            security_feature::password_algorithms | security_feature::username_anonymity);
  EXPECT_FALSE(parse_nonce_cookie("obMatJos2wA"));      // too short
  EXPECT_FALSE(parse_nonce_cookie("obMatJos2wA*Aab"));  // not base64
  EXPECT_FALSE(parse_nonce_cookie("xbMatJos2wAAA"));    // wrong cookie
}

TEST(Rfc8489AppendixB, BuilderReproducesRequestExactly) {
  auto m = message_view::parse(request);
  ASSERT_TRUE(m);
  const auto key = long_term_key_sha256(username, realm, "TheMatrIX");
  const auto uh = userhash(username, realm);
  std::array<std::uint8_t, 256> buf{};
  message_builder b(buf, method::binding, msg_class::request, m->tid_bytes());
  b.add(attr::userhash, uh);
  add_text(b, attr::nonce, nonce);
  add_text(b, attr::realm, realm);
  add_password_algorithm(b, password_algorithm::sha256);
  b.add_message_integrity_sha256(key);
  auto out = b.finish();
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(test::to_hex(*out), test::to_hex(request));
}

TEST(Rfc8489, TruncatedSha256IntegrityVerifies) {
  const std::array<std::uint8_t, 12> tid{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const auto key = test::as_bytes("secret");
  for (std::size_t len : {16u, 20u, 24u, 28u, 32u}) {
    std::array<std::uint8_t, 128> buf{};
    message_builder b(buf, method::binding, msg_class::request, tid);
    add_text(b, attr::software, "x");
    b.add_message_integrity_sha256(key, len).add_fingerprint();
    auto out = b.finish();
    ASSERT_TRUE(out);
    auto m = message_view::parse(*out);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->message_integrity_sha256()->value.size(), len);
    EXPECT_TRUE(check_message_integrity_sha256(*m, key));
    EXPECT_TRUE(check_fingerprint(*m));
  }
  std::array<std::uint8_t, 128> buf{};
  message_builder bad(buf, method::binding, msg_class::request, tid);
  bad.add_message_integrity_sha256(key, 18);
  EXPECT_FALSE(bad.finish());
}

}  // namespace
}  // namespace turnpike::protocol
