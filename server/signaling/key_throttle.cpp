// SPDX-License-Identifier: Apache-2.0
#include "server/signaling/key_throttle.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace turnpike::server::signaling {

std::string key_throttle::source_of(std::string_view ip) {
  std::string text(ip);
  std::array<unsigned char, 16> a{};
  if (::inet_pton(AF_INET6, text.c_str(), a.data()) != 1) return text;  // IPv4 (or a name)
  static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char out[INET6_ADDRSTRLEN] = {};
  if (std::memcmp(a.data(), mapped, sizeof mapped) == 0) {
    ::inet_ntop(AF_INET, a.data() + 12, out, sizeof out);
    return out;
  }
  std::fill(a.begin() + 8, a.end(), 0);
  ::inet_ntop(AF_INET6, a.data(), out, sizeof out);
  return std::string(out) + "/64";
}

key_throttle::clock::duration key_throttle::wait(std::string_view ip, clock::time_point now) {
  const auto it = sources_.find(source_of(ip));
  if (it == sources_.end()) return clock::duration::zero();
  // Each failure pushed full_at one refill further; `burst` of them in a row leave a debt of
  // burst refills, and the next try waits until it is back to burst - 1.
  const auto debt = it->second.full_at - now;
  if (debt <= allowance()) return clock::duration::zero();
  ++pending_.throttled;
  if (!it->second.throttled) {
    it->second.throttled = true;
    ++pending_.sources_throttled;
  }
  return debt - allowance();
}

void key_throttle::failed(std::string_view ip, clock::time_point now) {
  ++pending_.failed;
  std::string key = source_of(ip);
  auto it = sources_.find(key);
  if (it == sources_.end()) {
    if (sources_.size() >= s_.max_sources) expire(now);
    if (sources_.size() >= s_.max_sources) {
      ++pending_.untracked;
      return;
    }
    it = sources_.emplace(std::move(key), source{now, 0, false}).first;
  }
  source& s = it->second;
  s.full_at = std::max(s.full_at, now) + s_.refill;
  ++s.failed;
  if (s.failed > pending_.loudest_failed) {
    pending_.loudest_failed = s.failed;
    pending_.loudest = it->first;
  }
}

void key_throttle::expire(clock::time_point now) {
  for (auto it = sources_.begin(); it != sources_.end();) {
    if (it->second.full_at <= now) {
      it = sources_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<key_throttle::report> key_throttle::take_report(clock::time_point now) {
  if (pending_.failed == 0 && pending_.throttled == 0) return std::nullopt;
  if (last_report_ && now - *last_report_ < s_.report_every) return std::nullopt;
  last_report_ = now;
  report out = std::move(pending_);
  pending_ = report{};
  for (auto& [ip, s] : sources_) {
    s.failed = 0;
    s.throttled = false;
  }
  return out;
}

}  // namespace turnpike::server::signaling
