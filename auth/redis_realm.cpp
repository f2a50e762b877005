// SPDX-License-Identifier: Apache-2.0
// Realm options from Redis, polled.
#include "auth/redis_realm.hpp"

#include <algorithm>
#include <charconv>

#include "auth/redis_users.hpp"

namespace turnpike::auth {

realm_options make_realm_options(const std::optional<std::string>& max_bps,
                                 const std::vector<std::string>& allowed,
                                 const std::vector<std::string>& denied) {
  realm_options o;
  if (max_bps) {
    std::uint64_t v = 0;
    const auto& s = *max_bps;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) {
      o.max_bps = v;
    } else {
      o.rejected.push_back("max-bps=" + s);
    }
  }
  auto ranges = [&](const std::vector<std::string>& in, std::vector<protocol::ip_range>& out,
                    const char* name) {
    for (const auto& e : in) {
      if (auto range = protocol::parse_ip_range(e)) {
        out.push_back(*range);
      } else {
        o.rejected.push_back(std::string(name) + "=" + e);
      }
    }
  };
  ranges(allowed, o.allowed, "allowed-peer-ip");
  ranges(denied, o.denied, "denied-peer-ip");
  // Sets have no order: sort so equal contents compare equal.
  auto by_text = [](const protocol::ip_range& a, const protocol::ip_range& b) {
    return std::make_pair(a.first.ip, a.last.ip) < std::make_pair(b.first.ip, b.last.ip);
  };
  std::sort(o.allowed.begin(), o.allowed.end(), by_text);
  std::sort(o.denied.begin(), o.denied.end(), by_text);
  std::sort(o.rejected.begin(), o.rejected.end());
  return o;
}

realm_options parse_realm_options(const std::vector<redis_reply>& replies) {
  if (replies.size() != 3) return {};
  std::optional<std::string> max_bps;
  if (replies[0].type == redis_reply::kind::string) max_bps = replies[0].str;
  auto strings = [](const redis_reply& r) {
    std::vector<std::string> out;
    if (r.type == redis_reply::kind::array) {
      for (const auto& e : r.elements) out.push_back(e.str);
    }
    return out;
  };
  return make_realm_options(max_bps, strings(replies[1]), strings(replies[2]));
}

redis_realm_watch::redis_realm_watch(redis_client& client, std::string realm,
                                     std::chrono::seconds every, callback changed)
    : client_(client),
      realm_(std::move(realm)),
      every_(every),
      changed_(std::move(changed)),
      thread_([this] { loop(); }) {}

redis_realm_watch::~redis_realm_watch() {
  stop();
}

void redis_realm_watch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void redis_realm_watch::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    lock.unlock();
    client_.submit({{"GET", redis_realm_option_key(realm_, "max-bps")},
                    {"SMEMBERS", redis_realm_option_key(realm_, "allowed-peer-ip")},
                    {"SMEMBERS", redis_realm_option_key(realm_, "denied-peer-ip")}},
                   [this](std::optional<std::vector<redis_reply>> replies) {
                     if (!replies) return;  // unreachable: keep what is in force
                     auto o = parse_realm_options(*replies);
                     {
                       std::lock_guard inner(mutex_);
                       if (last_ && *last_ == o) return;
                       last_ = o;
                     }
                     changed_(o);
                   });
    lock.lock();
    if (wake_.wait_for(lock, every_, [&] { return stopping_; })) return;
  }
}

}  // namespace turnpike::auth
