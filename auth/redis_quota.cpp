// SPDX-License-Identifier: Apache-2.0
// Fleet-wide quotas: lease scripts, renewal, and the per-process fallback.
#include "auth/redis_quota.hpp"

#include <openssl/rand.h>

#include <array>

#include "auth/redis_users.hpp"

namespace turnpike::auth {
namespace {

// KEYS: user set, total set, realm user-quota, realm total-quota.
// ARGV: member, lease ms, configured user-quota, configured total-quota.
// 1: taken; 0: over a limit.
constexpr const char* acquire_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local ul = tonumber(redis.call('GET', KEYS[3]) or ARGV[3]) or 0
local tl = tonumber(redis.call('GET', KEYS[4]) or ARGV[4]) or 0
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if ul > 0 and redis.call('ZCARD', KEYS[1]) >= ul then return 0 end
if tl > 0 and redis.call('ZCARD', KEYS[2]) >= tl then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
)lua";

// KEYS: user set and total set of each lease, in pairs. ARGV: lease ms, then the members.
constexpr const char* renew_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  local u = KEYS[2 * i - 3]
  local tk = KEYS[2 * i - 2]
  redis.call('ZADD', u, now + ttl, ARGV[i])
  redis.call('PEXPIRE', u, ttl)
  redis.call('ZADD', tk, now + ttl, ARGV[i])
  redis.call('PEXPIRE', tk, ttl)
end
return #ARGV - 1
)lua";

constexpr std::size_t renew_batch = 200;

std::string user_set(std::string_view realm, std::string_view user) {
  std::string k = "turnpike/quota/";
  k.append(realm).append("/user/").append(user);
  return k;
}

std::string total_set(std::string_view realm) {
  std::string k = "turnpike/quota/";
  k.append(realm).append("/total");
  return k;
}

}  // namespace

redis_quota::redis_quota(redis_client& client, unsigned per_user, unsigned total,
                         std::chrono::seconds lease_ttl)
    : client_(client),
      per_user_(per_user),
      total_(total),
      lease_ttl_(lease_ttl),
      local_(per_user, total) {
  std::array<std::uint8_t, 8> id{};
  RAND_bytes(id.data(), static_cast<int>(id.size()));
  server_id_ = to_hex(id);
  renewer_ = std::thread([this] { renew_loop(); });
}

redis_quota::~redis_quota() {
  stop();
}

void redis_quota::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

std::string redis_quota::member(std::uint64_t lease) const {
  return server_id_ + ":" + std::to_string(lease);
}

redis_quota_stats redis_quota::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t redis_quota::live_leases() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

void redis_quota::acquire(std::string_view user, std::string_view realm, std::uint64_t lease,
                          callback done) {
  // The per-process count first: it never exceeds the fleet's, so its refusal is final.
  if (!local_.acquire(user)) {
    {
      std::lock_guard lock(mutex_);
      ++stats_.refused;
    }
    done(quota_verdict::refused);
    return;
  }
  std::string u(user), r(realm);
  std::vector<redis_command> cmd{{"EVAL", acquire_script, "4", user_set(realm, user),
                                  total_set(realm), redis_realm_option_key(realm, "user-quota"),
                                  redis_realm_option_key(realm, "total-quota"), member(lease),
                                  std::to_string(std::chrono::milliseconds(lease_ttl_).count()),
                                  std::to_string(per_user_), std::to_string(total_)}};
  auto finish = [this, u, r, lease, done](std::optional<std::vector<redis_reply>> replies) {
    quota_verdict v = quota_verdict::granted;
    {
      std::lock_guard lock(mutex_);
      if (replies && replies->front().type == redis_reply::kind::integer) {
        if (replies->front().integer == 1) {
          ++stats_.granted;
        } else {
          v = quota_verdict::refused;
          ++stats_.refused;
        }
      } else {
        ++stats_.granted_locally;  // Redis down or erring: the local count decided
      }
      if (v == quota_verdict::granted) live_[lease] = held{u, r};
    }
    if (v == quota_verdict::refused) local_.release(u);
    done(v);
  };
  if (!client_.submit(std::move(cmd), finish)) finish(std::nullopt);
}

void redis_quota::release(std::string_view user, std::string_view realm, std::uint64_t lease) {
  local_.release(user);
  {
    std::lock_guard lock(mutex_);
    live_.erase(lease);
  }
  const std::string m = member(lease);
  // Fire and forget: if Redis cannot take it now, the lease expires by itself.
  client_.submit({{"ZREM", user_set(realm, user), m}, {"ZREM", total_set(realm), m}},
                 [](const std::optional<std::vector<redis_reply>>&) {});
}

void redis_quota::renew_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, lease_ttl_ / 3, [&] { return stopping_; });
    if (stopping_) return;
    if (live_.empty()) continue;
    // Built and queued under the lock: a release either happened before (its lease is not
    // renewed) or queues its ZREM after this renewal (Redis runs them in that order).
    const std::string ttl = std::to_string(std::chrono::milliseconds(lease_ttl_).count());
    auto it = live_.begin();
    while (it != live_.end()) {
      redis_command keys, members;
      for (std::size_t n = 0; n < renew_batch && it != live_.end(); ++n, ++it) {
        keys.push_back(user_set(it->second.realm, it->second.user));
        keys.push_back(total_set(it->second.realm));
        members.push_back(member(it->first));
      }
      redis_command cmd{"EVAL", renew_script, std::to_string(keys.size())};
      cmd.insert(cmd.end(), keys.begin(), keys.end());
      cmd.push_back(ttl);
      cmd.insert(cmd.end(), members.begin(), members.end());
      client_.submit({std::move(cmd)}, [](const std::optional<std::vector<redis_reply>>&) {});
    }
    ++stats_.renewals;
  }
}

}  // namespace turnpike::auth
