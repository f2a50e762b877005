// SPDX-License-Identifier: Apache-2.0
// The Redis credential store against a real redis-server: one round trip for a burst of
// lookups of one user, cached answers, not-found answers, hostile names sent verbatim as
// arguments, and an outage (stale answers for known users, `unavailable` for others, and
// recovery without a restart).
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "auth/redis_users.hpp"
#include "support/redis.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;
using auth::lookup_result;
using auth::lookup_status;

// Collects asynchronous answers.
struct answers {
  std::mutex m;
  std::condition_variable cv;
  std::vector<lookup_result> got;
  auth::key_source::callback add() {
    return [this](const lookup_result& r) {
      std::lock_guard lock(m);
      got.push_back(r);
      cv.notify_all();
    };
  }
  bool wait(std::size_t n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 10s, [&] { return got.size() >= n; });
  }
};

class RedisUsersTest : public ::testing::Test {
 protected:
  RedisUsersTest()
      : client_(auth::parse_redis_endpoint(redis_.connection())),
        store_(client_),
        users_(store_, options()) {}
  static auth::cached_users_options options() {
    auth::cached_users_options o;
    o.cache_ttl = 1s;
    return o;
  }
  lookup_result lookup(const std::string& user) {
    if (auto hit = users_.cached(user, "test", 0)) return *hit;
    answers a;
    users_.fetch(user, "test", 0, a.add());
    EXPECT_TRUE(a.wait(1));
    return a.got.at(0);
  }
  redis_server redis_;
  auth::redis_client client_;
  auth::redis_user_store store_;
  auth::cached_users users_;
};

TEST_F(RedisUsersTest, BurstIsOneRoundTripThenCached) {
  const auto key = protocol::long_term_key_md5("alice", "test", "pw");
  redis_.cli({"SET", "turn/realm/test/user/alice/key", auth::to_hex(key)});
  // Redis holds every command for half a second: the first lookup waits there while the
  // other 49 arrive and join it.
  redis_.cli({"CLIENT", "PAUSE", "500"});
  answers a;
  for (int i = 0; i < 50; ++i) users_.fetch("alice", "test", 0, a.add());
  ASSERT_TRUE(a.wait(50));
  for (const auto& r : a.got) {
    ASSERT_EQ(r.status, lookup_status::found);
    EXPECT_EQ(r.keys.at(0).md5, key);
  }
  const auto s = users_.stats();
  EXPECT_EQ(s.lookups, 1u);  // one round trip for the burst
  EXPECT_EQ(s.coalesced, 49u);
  EXPECT_EQ(lookup("alice").status, lookup_status::found);
  EXPECT_GE(users_.stats().cache_hits, 1u);
  EXPECT_EQ(lookup("nobody").status, lookup_status::not_found);
}

TEST_F(RedisUsersTest, HostileNamesAreArgumentsNotCommands) {
  const std::vector<std::string> hostile{"%s%n%x", std::string("a\0b", 3), "x\r\nFLUSHALL\r\n",
                                         "\xff\xfe", std::string(10000, 'A')};
  for (const auto& name : hostile) {
    EXPECT_EQ(lookup(name).status, lookup_status::not_found);
  }
  redis_.cli({"SET", "canary", "1"});
  EXPECT_NE(redis_.cli({"GET", "canary"}).find("1"), std::string::npos);  // nothing flushed
  // A name with a newline, stored and found verbatim.
  const std::string odd = "eve\r\nDEL canary";
  const auto key = protocol::long_term_key_md5(odd, "test", "pw");
  auth::redis_connection c;
  ASSERT_TRUE(c.connect(auth::parse_redis_endpoint(redis_.connection()), 1s));
  ASSERT_TRUE(c.run({{"SET", auth::redis_user_key("test", odd), auth::to_hex(key)}}));
  EXPECT_EQ(lookup(odd).status, lookup_status::found);
  EXPECT_NE(redis_.cli({"GET", "canary"}).find("1"), std::string::npos);
}

TEST_F(RedisUsersTest, OutageServesKnownUsersAndRecovers) {
  const auto key = protocol::long_term_key_md5("bob", "test", "pw");
  redis_.cli({"SET", "turn/realm/test/user/bob/key", auth::to_hex(key)});
  ASSERT_EQ(lookup("bob").status, lookup_status::found);
  redis_.kill();
  std::this_thread::sleep_for(1200ms);                    // past the cache lifetime
  EXPECT_EQ(lookup("bob").status, lookup_status::found);  // stale, served
  EXPECT_EQ(lookup("carol").status, lookup_status::unavailable);
  EXPECT_GE(users_.stats().served_stale, 1u);
  redis_.start();
  redis_.cli({"SET", "turn/realm/test/user/carol/key", auth::to_hex(key)});
  // Reconnects by itself (backoff at most 5 s).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!client_.up() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(client_.up());
  EXPECT_EQ(lookup("carol").status, lookup_status::found);
}

}  // namespace
}  // namespace turnpike::test
