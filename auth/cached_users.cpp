// SPDX-License-Identifier: Apache-2.0
// The credential cache in front of a user database, and query sharing.
#include "auth/cached_users.hpp"

#include "auth/rest_secrets.hpp"

namespace turnpike::auth {
namespace {

constexpr std::size_t max_cache_entries = 200000;

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<protocol::md5_key> parse_hex_key(std::string_view hex) {
  protocol::md5_key key{};
  if (hex.size() != key.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return key;
}

std::string to_hex(protocol::byte_span bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

cached_users::cached_users(user_store& store, cached_users_options options)
    : store_(store), options_(options) {}

cached_users_stats cached_users::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

lookup_result cached_users::answer(const entry& e, std::string_view user, std::string_view realm,
                                   std::int64_t unix_now) const {
  lookup_result r;
  if (e.found_user) {
    r.status = lookup_status::found;
    r.keys.push_back(credential{e.key, std::nullopt});
  }
  if (options_.rest && !e.secrets.empty()) {
    rest_secrets rest(e.secrets, std::string(realm), options_.rest_separator);
    rest.find_key(user, realm, unix_now, [&](const lookup_result& from_secrets) {
      if (from_secrets.status != lookup_status::found) return;
      r.status = lookup_status::found;
      r.keys.insert(r.keys.end(), from_secrets.keys.begin(), from_secrets.keys.end());
    });
  }
  return r;
}

std::optional<lookup_result> cached_users::cached(std::string_view user, std::string_view realm,
                                                  std::int64_t unix_now) {
  std::lock_guard lock(mutex_);
  const auto it = cache_.find(cache_key(realm, user));
  if (it == cache_.end() || clock::now() - it->second.fetched > options_.cache_ttl) {
    return std::nullopt;
  }
  ++stats_.cache_hits;
  return answer(it->second, user, realm, unix_now);
}

void cached_users::fetch(std::string_view user, std::string_view realm, std::int64_t unix_now,
                         key_source::callback done) {
  cache_key k(realm, user);
  {
    std::lock_guard lock(mutex_);
    auto& waiters = waiting_[k];
    waiters.push_back(std::move(done));
    if (waiters.size() > 1) {
      ++stats_.coalesced;
      return;  // one round trip is already on its way for this user
    }
    ++stats_.lookups;
  }
  store_.fetch(realm, user, options_.rest, [this, k, unix_now](std::optional<stored_user> found) {
    if (!found) {
      complete(k, std::nullopt, unix_now);
      return;
    }
    entry e;
    static_cast<stored_user&>(e) = std::move(*found);
    e.fetched = clock::now();
    complete(k, std::move(e), unix_now);
  });
}

void cached_users::complete(const cache_key& k, std::optional<entry> fresh, std::int64_t unix_now) {
  std::vector<key_source::callback> waiters;
  lookup_result r;
  {
    std::lock_guard lock(mutex_);
    if (const auto w = waiting_.find(k); w != waiting_.end()) {
      waiters.swap(w->second);
      waiting_.erase(w);
    }
    if (fresh) {
      if (cache_.size() >= max_cache_entries) {
        // Under a flood of names: forget everything past its fresh time first.
        const auto now = clock::now();
        std::erase_if(cache_,
                      [&](const auto& kv) { return now - kv.second.fetched > options_.cache_ttl; });
      }
      if (cache_.size() < max_cache_entries) cache_[k] = *fresh;
      r = answer(*fresh, k.second, k.first, unix_now);
    } else if (const auto it = cache_.find(k);
               it != cache_.end() && clock::now() - it->second.fetched <= options_.stale_ttl) {
      ++stats_.served_stale;
      r = answer(it->second, k.second, k.first, unix_now);
    } else {
      ++stats_.unavailable;
      r.status = lookup_status::unavailable;
    }
  }
  for (auto& w : waiters) w(r);
}

void cached_key_source::find_key(std::string_view username, std::string_view realm,
                                 std::int64_t unix_now, callback done) {
  if (auto hit = users_.cached(username, realm, unix_now)) {
    done(*hit);
    return;
  }
  users_.fetch(username, realm, unix_now,
               [post = post_, done = std::move(done)](const lookup_result& r) {
                 post([done, r] { done(r); });
               });
}

}  // namespace turnpike::auth
