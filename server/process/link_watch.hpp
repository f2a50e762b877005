// SPDX-License-Identifier: Apache-2.0
// Whether a connection the server depends on (redis-userdb) is up, looked at every half
// second: only changes are told (the first look tells only "up"), so an outage is logged
// once when it starts and once when it ends.
#pragma once

#include <functional>

namespace turnpike::server::process {

class link_watch {
 public:
  explicit link_watch(std::function<void(bool up)> changed) : changed_(std::move(changed)) {}
  void observe(bool up) {
    if (up == up_) return;
    up_ = up;
    changed_(up);
  }
  bool up() const noexcept { return up_; }

 private:
  std::function<void(bool)> changed_;
  bool up_ = false;
};

}  // namespace turnpike::server::process
