// SPDX-License-Identifier: Apache-2.0
// Allocation quotas (486 Allocation Quota Reached, RFC 8656 section 7.2): user-quota (per
// username) and total-quota. `allocation_quota` is what the engine asks on Allocate and tells
// when an allocation ends; asynchronous, because a fleet counts in Redis
// (`redis_quota.hpp`). `quota` is the per-process count, shared by the shards behind a mutex
// (control path only: Allocate and deletion, never per packet).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace turnpike::auth {

enum class quota_verdict { granted, refused, unavailable };

class allocation_quota {
 public:
  using callback = std::function<void(quota_verdict)>;
  virtual ~allocation_quota() = default;
  // Calls `done` exactly once: before returning, or later on the caller's executor. `lease`
  // names the allocation (unique within this process) for release().
  virtual void acquire(std::string_view user, std::string_view realm, std::uint64_t lease,
                       callback done) = 0;
  // Only after a granted acquire.
  virtual void release(std::string_view user, std::string_view realm, std::uint64_t lease) = 0;
};

class quota final : public allocation_quota {
 public:
  // 0 means unlimited.
  quota(unsigned per_user, unsigned total) noexcept : per_user_(per_user), total_(total) {}

  // New limits (0: unlimited) from now on; allocations already held stay.
  void set_limits(unsigned per_user, unsigned total);
  bool acquire(std::string_view user);
  void release(std::string_view user);
  unsigned in_use() const;

  void acquire(std::string_view user, std::string_view, std::uint64_t, callback done) override {
    done(acquire(user) ? quota_verdict::granted : quota_verdict::refused);
  }
  void release(std::string_view user, std::string_view, std::uint64_t) override { release(user); }

 private:
  mutable std::mutex mutex_;
  unsigned per_user_;
  unsigned total_;
  unsigned count_ = 0;
  std::unordered_map<std::string, unsigned> by_user_;
};

}  // namespace turnpike::auth
