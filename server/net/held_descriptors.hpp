// SPDX-License-Identifier: Apache-2.0
// Sockets kept for a little while as bare descriptors, shared by all shards, until some shard
// adopts one: ports kept by EVEN-PORT's R bit (RFC 8656 section 7.2, 30 s) and peer
// connections awaiting ConnectionBind (RFC 6062, 30 s). Touched only while setting things up,
// so one mutex serves all shards; what nobody takes in time is closed.
#pragma once

#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace turnpike::server::net {

template <class Key, class Info>
class held_descriptors {
 public:
  explicit held_descriptors(std::chrono::seconds hold) noexcept : hold_(hold) {}
  held_descriptors(const held_descriptors&) = delete;
  held_descriptors& operator=(const held_descriptors&) = delete;
  ~held_descriptors() {
    for (auto& [key, h] : held_) ::close(h.fd);
  }

  std::chrono::seconds hold() const noexcept { return hold_; }

  // Keeps `fd` under `key`; false (and `fd` left to the caller) when the key is taken.
  bool put(const Key& key, int fd, Info info) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    drop_expired(now);
    return held_.emplace(key, entry{fd, std::move(info), now + hold_}).second;
  }
  // Hands the descriptor over to the caller.
  std::optional<std::pair<int, Info>> take(const Key& key) {
    std::lock_guard lock(mutex_);
    drop_expired(std::chrono::steady_clock::now());
    const auto it = held_.find(key);
    if (it == held_.end()) return std::nullopt;
    auto out = std::make_pair(it->second.fd, std::move(it->second.info));
    held_.erase(it);
    return out;
  }
  // Closes what has waited too long. put/take/peek do it as well; the shards also call it on
  // every Allocate, so a reservation nobody asks for gives its port back on time.
  void expire() {
    std::lock_guard lock(mutex_);
    drop_expired(std::chrono::steady_clock::now());
  }
  std::optional<Info> peek(const Key& key) {
    std::lock_guard lock(mutex_);
    drop_expired(std::chrono::steady_clock::now());
    const auto it = held_.find(key);
    if (it == held_.end()) return std::nullopt;
    return it->second.info;
  }

 private:
  struct entry {
    int fd = -1;
    Info info;
    std::chrono::steady_clock::time_point until;
  };
  void drop_expired(std::chrono::steady_clock::time_point now) {
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->second.until <= now) {
        ::close(it->second.fd);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::chrono::seconds hold_;
  std::mutex mutex_;
  std::map<Key, entry> held_;
};

}  // namespace turnpike::server::net
