// SPDX-License-Identifier: Apache-2.0
// static_users: keys from passwords and from 0x keys, realm matching, SASLprep.
#include <gtest/gtest.h>

#include "auth/static_users.hpp"

namespace turnpike::auth {
namespace {

lookup_result find(static_users& s, std::string_view user, std::string_view realm) {
  lookup_result out;
  int calls = 0;
  s.find_key(user, realm, 0, [&](const lookup_result& r) {
    out = r;
    ++calls;
  });
  EXPECT_EQ(calls, 1);
  return out;
}

TEST(StaticUsers, PasswordAndKeyForms) {
  const auto key = protocol::long_term_key_md5("bob", "test", "pw");
  static_users s({{"u", "p", std::nullopt}, {"bob", std::nullopt, key}}, "test");
  auto u = find(s, "u", "test");
  ASSERT_EQ(u.status, lookup_status::found);
  EXPECT_EQ(u.keys.at(0).md5, protocol::long_term_key_md5("u", "test", "p"));
  ASSERT_TRUE(u.keys.at(0).sha256);
  EXPECT_EQ(*u.keys.at(0).sha256, protocol::long_term_key_sha256("u", "test", "p"));
  auto b = find(s, "bob", "test");
  ASSERT_EQ(b.status, lookup_status::found);
  EXPECT_EQ(b.keys.at(0).md5, key);
  EXPECT_FALSE(b.keys.at(0).sha256);  // no password, no SHA-256 key
  EXPECT_EQ(find(s, "carol", "test").status, lookup_status::not_found);
  EXPECT_EQ(find(s, "u", "other").status, lookup_status::not_found);
}

TEST(StaticUsers, PasswordsAreSaslPrepared) {
  static_users s({{"u", "The\u00ADM\u00AAtr\u2168", std::nullopt}}, "example.org");
  EXPECT_EQ(find(s, "u", "example.org").keys.at(0).md5,
            protocol::long_term_key_md5("u", "example.org", "TheMatrIX"));
  EXPECT_THROW(static_users({{"u", std::string("a\x07", 2), std::nullopt}}, "r"),
               std::invalid_argument);
  EXPECT_THROW(static_users({{"u", std::nullopt, std::nullopt}}, "r"), std::invalid_argument);
}

}  // namespace
}  // namespace turnpike::auth
