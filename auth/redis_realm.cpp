// SPDX-License-Identifier: Apache-2.0
// Realm options from Redis, polled.
#include "auth/redis_realm.hpp"

#include <algorithm>
#include <charconv>

#include "auth/redis_users.hpp"

namespace turnpike::auth {

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
