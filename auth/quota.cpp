// SPDX-License-Identifier: Apache-2.0
// Quota bookkeeping.
#include "auth/quota.hpp"

namespace turnpike::auth {

void quota::set_limits(unsigned per_user, unsigned total) {
  std::lock_guard lock(mutex_);
  per_user_ = per_user;
  total_ = total;
}

bool quota::acquire(std::string_view user) {
  std::lock_guard lock(mutex_);
  if (total_ != 0 && count_ >= total_) return false;
  unsigned& mine = by_user_[std::string(user)];
  if (per_user_ != 0 && mine >= per_user_) {
    if (mine == 0) by_user_.erase(std::string(user));
    return false;
  }
  ++mine;
  ++count_;
  return true;
}

void quota::release(std::string_view user) {
  std::lock_guard lock(mutex_);
  const auto it = by_user_.find(std::string(user));
  if (it == by_user_.end()) return;
  if (--it->second == 0) by_user_.erase(it);
  --count_;
}

unsigned quota::in_use() const {
  std::lock_guard lock(mutex_);
  return count_;
}

}  // namespace turnpike::auth
