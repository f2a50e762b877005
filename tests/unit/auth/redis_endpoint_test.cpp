// SPDX-License-Identifier: Apache-2.0
// redis-userdb connection strings in coturn's form, and coturn's key names and hex keys.
#include <gtest/gtest.h>

#include "auth/redis_client.hpp"
#include "auth/redis_realm.hpp"
#include "auth/redis_users.hpp"

namespace turnpike::auth {
namespace {

TEST(RedisEndpoint, CoturnForm) {
  const auto e =
      parse_redis_endpoint("ip=10.0.0.5 dbname=3 password=turn port=6380 connect_timeout=30");
  EXPECT_EQ(e.host, "10.0.0.5");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 3);
  EXPECT_EQ(e.password, "turn");
  EXPECT_EQ(e.connect_timeout, std::chrono::seconds(30));
  const auto d = parse_redis_endpoint("  host=redis.internal   db=1 user=turnpike password=x ");
  EXPECT_EQ(d.host, "redis.internal");
  EXPECT_EQ(d.port, 6379);
  EXPECT_EQ(d.db, 1);
  EXPECT_EQ(d.user, "turnpike");
  const auto empty = parse_redis_endpoint("");
  EXPECT_EQ(empty.host, "127.0.0.1");
}

TEST(RedisEndpoint, BadPartsAreNamed) {
  auto why = [](const char* text) {
    try {
      parse_redis_endpoint(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(why("ip=1.2.3.4 prot=1"), "unknown key 'prot'");
  EXPECT_EQ(why("port=70000"), "port='70000' is not a number in range");
  EXPECT_EQ(why("port=12x"), "port='12x' is not a number in range");
  EXPECT_EQ(why("127.0.0.1"), "'127.0.0.1' is not key=value");
  EXPECT_EQ(why("ip="), "empty host");
  EXPECT_EQ(why("connect_timeout=0"), "connect_timeout='0' is not a number in range");
}

TEST(RedisLayout, CoturnKeyNamesAndHexKeys) {
  EXPECT_EQ(redis_user_key("example.org", "alice"), "turn/realm/example.org/user/alice/key");
  EXPECT_EQ(redis_secret_key("example.org"), "turn/realm/example.org/secret");
  EXPECT_EQ(redis_realm_option_key("example.org", "user-quota"),
            "turn/realm/example.org/user-quota");
  // The key coturn's turnadmin -k prints for u / test / p.
  const auto k = parse_hex_key("5c8157fd8ef5f6b56629b7399d83ce25");
  ASSERT_TRUE(k);
  EXPECT_EQ(*k, protocol::long_term_key_md5("u", "test", "p"));
  EXPECT_EQ(to_hex(*k), "5c8157fd8ef5f6b56629b7399d83ce25");
  EXPECT_TRUE(parse_hex_key("5C8157FD8EF5F6B56629B7399D83CE25"));
  EXPECT_FALSE(parse_hex_key("5c8157fd8ef5f6b56629b7399d83ce2"));
  EXPECT_FALSE(parse_hex_key("5c8157fd8ef5f6b56629b7399d83ce2g"));
  EXPECT_FALSE(parse_hex_key(""));
}

TEST(RedisRealm, OptionsParsedBadEntriesNamed) {
  redis_reply bps{redis_reply::kind::string, "64000", 0, {}};
  redis_reply allowed{redis_reply::kind::array, "", 0, {}};
  allowed.elements.push_back({redis_reply::kind::string, "10.0.0.0/8", 0, {}});
  allowed.elements.push_back({redis_reply::kind::string, "not-an-ip", 0, {}});
  redis_reply denied{redis_reply::kind::array, "", 0, {}};
  denied.elements.push_back({redis_reply::kind::string, "192.0.2.1-192.0.2.9", 0, {}});
  auto o = parse_realm_options({bps, allowed, denied});
  EXPECT_EQ(o.max_bps, 64000u);
  ASSERT_EQ(o.allowed.size(), 1u);
  ASSERT_EQ(o.denied.size(), 1u);
  EXPECT_EQ(o.rejected, std::vector<std::string>{"allowed-peer-ip=not-an-ip"});
  redis_reply nil{};
  auto none = parse_realm_options({nil, nil, nil});
  EXPECT_FALSE(none.max_bps);
  EXPECT_TRUE(none.allowed.empty());
  redis_reply bad{redis_reply::kind::string, "fast", 0, {}};
  EXPECT_EQ(parse_realm_options({bad, nil, nil}).rejected,
            std::vector<std::string>{"max-bps=fast"});
}

}  // namespace
}  // namespace turnpike::auth
