// SPDX-License-Identifier: Apache-2.0
// Reservation tokens for EVEN-PORT R.
#include "server/net/relay_ports.hpp"

#include <openssl/rand.h>
#include <unistd.h>

namespace turnpike::server::net {

engine::reservation_token relay_reservations::put(int fd,
                                                  const protocol::transport_address& local) {
  engine::reservation_token token{};
  RAND_bytes(token.data(), static_cast<int>(token.size()));
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  drop_expired(now);
  held_[token] = {fd, local, now + hold};
  return token;
}

std::optional<std::pair<int, protocol::transport_address>> relay_reservations::take(
    const engine::reservation_token& token) {
  std::lock_guard lock(mutex_);
  drop_expired(std::chrono::steady_clock::now());
  const auto it = held_.find(token);
  if (it == held_.end()) return std::nullopt;
  auto out = std::make_pair(it->second.fd, it->second.local);
  held_.erase(it);
  return out;
}

void relay_reservations::drop_expired(std::chrono::steady_clock::time_point now) {
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.until <= now) {
      ::close(it->second.fd);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

relay_reservations::~relay_reservations() {
  for (auto& [token, h] : held_) ::close(h.fd);
}

}  // namespace turnpike::server::net
