// SPDX-License-Identifier: Apache-2.0
// Long-term credentials and TURN REST secrets from a user database (user_store.hpp: Redis,
// SQLite, PostgreSQL), cached for `cache_ttl` (found and not found alike); concurrent lookups
// of one user share one query. When the store cannot answer, an entry up to `stale_ttl` old is
// served, and a user never seen gets `unavailable` (the engine answers 500).
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
#include "auth/user_store.hpp"

namespace turnpike::auth {

// The MD5 key in the hex form coturn stores; nullopt when `hex` is not 32 hex digits.
std::optional<protocol::md5_key> parse_hex_key(std::string_view hex);
std::string to_hex(protocol::byte_span bytes);

struct cached_users_options {
  bool rest = false;  // use-auth-secret: also the realm's secret set
  char rest_separator = ':';
  std::chrono::seconds cache_ttl{5};
  std::chrono::seconds stale_ttl{600};
};

struct cached_users_stats {
  std::uint64_t cache_hits = 0;
  std::uint64_t lookups = 0;    // queries started
  std::uint64_t coalesced = 0;  // lookups that joined one in flight
  std::uint64_t served_stale = 0;
  std::uint64_t unavailable = 0;
};

// Shared by the shards.
class cached_users {
 public:
  using clock = std::chrono::steady_clock;
  cached_users(user_store& store, cached_users_options options);

  // A fresh cached answer, if any (no query).
  std::optional<lookup_result> cached(std::string_view user, std::string_view realm,
                                      std::int64_t unix_now);
  // Asks the store; `done` runs on the store's thread (or at once when it cannot ask).
  void fetch(std::string_view user, std::string_view realm, std::int64_t unix_now,
             key_source::callback done);
  cached_users_stats stats() const;

 private:
  struct entry : stored_user {
    clock::time_point fetched;
  };
  using cache_key = std::pair<std::string, std::string>;  // realm, user

  lookup_result answer(const entry& e, std::string_view user, std::string_view realm,
                       std::int64_t unix_now) const;
  void complete(const cache_key& k, std::optional<entry> fresh, std::int64_t unix_now);

  user_store& store_;
  cached_users_options options_;
  mutable std::mutex mutex_;
  std::map<cache_key, entry> cache_;
  std::map<cache_key, std::vector<key_source::callback>> waiting_;
  cached_users_stats stats_;
};

// The key_source one shard uses: cached answers at once, the rest posted back to the shard
// through `post` (which runs a function on the shard's thread).
class cached_key_source final : public key_source {
 public:
  using poster = std::function<void(std::function<void()>)>;
  cached_key_source(cached_users& users, poster post) : users_(users), post_(std::move(post)) {}
  void find_key(std::string_view username, std::string_view realm, std::int64_t unix_now,
                callback done) override;

 private:
  cached_users& users_;
  poster post_;
};

}  // namespace turnpike::auth
