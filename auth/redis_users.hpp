// SPDX-License-Identifier: Apache-2.0
// Long-term credentials and TURN REST secrets kept in Redis in coturn's layout, so a coturn
// Redis works unchanged:
//   turn/realm/<realm>/user/<user>/key   hex MD5(user:realm:password), as turnadmin writes it
//   turn/realm/<realm>/secret            a set of TURN REST secrets (with use-auth-secret)
// One lookup is one pipelined round trip (GET, and SMEMBERS when REST is on). Answers are
// cached for `cache_ttl` (found and not found alike); concurrent lookups of one user share
// one round trip. When Redis cannot answer, an entry up to `stale_ttl` old is served, and a
// user never seen gets `unavailable` (the engine answers 500).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "auth/key_source.hpp"
#include "auth/redis_client.hpp"

namespace turnpike::auth {

// The key names, shared with the admin tool.
std::string redis_user_key(std::string_view realm, std::string_view user);
std::string redis_secret_key(std::string_view realm);
std::string redis_realm_option_key(std::string_view realm, std::string_view option);
// The MD5 key in the hex form coturn stores; nullopt when `hex` is not 32 hex digits.
std::optional<protocol::md5_key> parse_hex_key(std::string_view hex);
std::string to_hex(protocol::byte_span bytes);

struct redis_users_options {
  bool rest = false;  // use-auth-secret: also the realm's secret set
  char rest_separator = ':';
  std::chrono::seconds cache_ttl{5};
  std::chrono::seconds stale_ttl{600};
};

struct redis_users_stats {
  std::uint64_t cache_hits = 0;
  std::uint64_t lookups = 0;    // round trips started
  std::uint64_t coalesced = 0;  // lookups that joined one in flight
  std::uint64_t served_stale = 0;
  std::uint64_t unavailable = 0;
};

// Shared by the shards.
class redis_users {
 public:
  using clock = std::chrono::steady_clock;
  redis_users(redis_client& client, redis_users_options options);

  // A fresh cached answer, if any (no Redis round trip).
  std::optional<lookup_result> cached(std::string_view user, std::string_view realm,
                                      std::int64_t unix_now);
  // Asks Redis; `done` runs on the Redis client thread (or at once when the queue is full).
  void fetch(std::string_view user, std::string_view realm, std::int64_t unix_now,
             key_source::callback done);
  redis_users_stats stats() const;

 private:
  struct entry {
    bool found_user = false;
    protocol::md5_key key{};
    std::vector<std::string> secrets;
    clock::time_point fetched;
  };
  using cache_key = std::pair<std::string, std::string>;  // realm, user

  lookup_result answer(const entry& e, std::string_view user, std::string_view realm,
                       std::int64_t unix_now) const;
  void complete(const cache_key& k, std::optional<entry> fresh, std::int64_t unix_now);

  redis_client& client_;
  redis_users_options options_;
  mutable std::mutex mutex_;
  std::map<cache_key, entry> cache_;
  std::map<cache_key, std::vector<key_source::callback>> waiting_;
  redis_users_stats stats_;
};

// The key_source one shard uses: cached answers at once, the rest posted back to the shard
// through `post` (which runs a function on the shard's thread).
class redis_key_source final : public key_source {
 public:
  using poster = std::function<void(std::function<void()>)>;
  redis_key_source(redis_users& users, poster post) : users_(users), post_(std::move(post)) {}
  void find_key(std::string_view username, std::string_view realm, std::int64_t unix_now,
                callback done) override;

 private:
  redis_users& users_;
  poster post_;
};

}  // namespace turnpike::auth
