// SPDX-License-Identifier: Apache-2.0
// Fleet-wide allocation quotas counted in Redis, so every server behind one DNS name enforces
// the same user-quota and total-quota. Each allocation holds a lease: a member
// "<server id>:<lease>" of two sorted sets scored by expiry time (Redis's own clock),
//   turnpike/quota/<realm>/user/<user>   and   turnpike/quota/<realm>/total
// taken atomically by one Lua script that first drops expired members, then compares the
// counts with the limits: the realm's `turn/realm/<realm>/user-quota` and `total-quota` keys
// (coturn's layout, set with turnpike-admin -O) when present, else the configured ones. Live
// leases are renewed every third of their lifetime and re-added after a Redis restart, so a
// crashed server's allocations stop counting within one lifetime and counts reconcile after
// an outage. While Redis cannot answer, the per-process count (`quota`) decides alone.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "auth/quota.hpp"
#include "auth/redis_client.hpp"

namespace turnpike::auth {

struct redis_quota_stats {
  std::uint64_t granted = 0;
  std::uint64_t refused = 0;
  std::uint64_t granted_locally = 0;  // Redis could not answer: the per-process count decided
  std::uint64_t renewals = 0;         // renewal round trips
};

class redis_quota final : public allocation_quota {
 public:
  // `per_user` / `total`: the configured limits (0: unlimited), used when the realm has none.
  redis_quota(redis_client& client, unsigned per_user, unsigned total,
              std::chrono::seconds lease_ttl = std::chrono::seconds(60));
  ~redis_quota() override;
  // Stops renewing (idempotent). Replies already queued may still call back afterwards, so
  // this object must outlive the client's thread.
  void stop();
  redis_quota(const redis_quota&) = delete;
  redis_quota& operator=(const redis_quota&) = delete;

  // `done` runs on the Redis client thread (or at once when the local count refuses or the
  // queue is full).
  void acquire(std::string_view user, std::string_view realm, std::uint64_t lease,
               callback done) override;
  void release(std::string_view user, std::string_view realm, std::uint64_t lease) override;

  redis_quota_stats stats() const;
  std::size_t live_leases() const;

 private:
  struct held {
    std::string user;
    std::string realm;
  };
  std::string member(std::uint64_t lease) const;
  void renew_loop();

  redis_client& client_;
  unsigned per_user_;
  unsigned total_;
  std::chrono::seconds lease_ttl_;
  std::string server_id_;
  quota local_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::uint64_t, held> live_;
  redis_quota_stats stats_;
  std::thread renewer_;
};

// The allocation_quota one shard uses: answers posted back to the shard through `post`.
// Leases are numbered per engine: `shard` (below 2^16) makes them unique in the process.
class posting_quota final : public allocation_quota {
 public:
  using poster = std::function<void(std::function<void()>)>;
  posting_quota(allocation_quota& inner, unsigned shard, poster post)
      : inner_(inner), prefix_(std::uint64_t{shard} << 48), post_(std::move(post)) {}
  void acquire(std::string_view user, std::string_view realm, std::uint64_t lease,
               callback done) override {
    inner_.acquire(
        user, realm, prefix_ | lease,
        [post = post_, done = std::move(done)](quota_verdict v) { post([done, v] { done(v); }); });
  }
  void release(std::string_view user, std::string_view realm, std::uint64_t lease) override {
    inner_.release(user, realm, prefix_ | lease);
  }

 private:
  allocation_quota& inner_;
  std::uint64_t prefix_;
  poster post_;
};

}  // namespace turnpike::auth
