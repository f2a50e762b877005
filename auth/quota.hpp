// SPDX-License-Identifier: Apache-2.0
// Allocation quotas shared by the shards of one server: user-quota (per username) and
// total-quota (486 Allocation Quota Reached, RFC 8656 section 7.2). Taken on Allocate and
// released when the allocation ends: control path only, so a mutex is fine here.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace turnpike::auth {

class quota {
 public:
  // 0 means unlimited.
  quota(unsigned per_user, unsigned total) noexcept : per_user_(per_user), total_(total) {}

  bool acquire(std::string_view user);
  void release(std::string_view user);
  unsigned in_use() const;

 private:
  mutable std::mutex mutex_;
  unsigned per_user_;
  unsigned total_;
  unsigned count_ = 0;
  std::unordered_map<std::string, unsigned> by_user_;
};

}  // namespace turnpike::auth
