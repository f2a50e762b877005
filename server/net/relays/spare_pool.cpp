// SPDX-License-Identifier: Apache-2.0
#include "server/net/relays/spare_pool.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace turnpike::server::net {

bool spare_pool::keep(int fd, const protocol::transport_address& local, bool dont_fragment,
                      time_point now) noexcept {
  if (fd < 0 || spares_.size() >= max_spares) return false;
  spares_.push_back({fd, local, dont_fragment, now});
  return true;
}

int spare_pool::take(protocol::address_family family, bool dont_fragment,
                     protocol::transport_address& local, time_point now,
                     std::minstd_rand& rng) noexcept {
  expire(now);
  if (spares_.empty()) return -1;
  const std::size_t from = rng() % spares_.size();
  for (std::size_t k = 0; k < spares_.size(); ++k) {
    const std::size_t i = (from + k) % spares_.size();
    const spare& s = spares_[i];
    if (s.dont_fragment != dont_fragment || s.local.family != family) continue;
    const int fd = s.fd;
    local = s.local;
    spares_.erase(spares_.begin() + static_cast<std::ptrdiff_t>(i));
    // What peers of the deleted allocation sent meanwhile is not the new one's: one datagram
    // per call into a byte of buffer (MSG_TRUNC), usually none but the EAGAIN.
    std::uint8_t byte;
    int discarded = 0;
    while (::recv(fd, &byte, sizeof byte, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
      if (++discarded == max_discarded) {
        ::close(fd);
        return -1;
      }
    }
    return fd;
  }
  return -1;
}

void spare_pool::expire(time_point now) noexcept {
  std::size_t n = 0;
  while (n < spares_.size() && spares_[n].since + lifetime <= now) ::close(spares_[n++].fd);
  spares_.erase(spares_.begin(), spares_.begin() + static_cast<std::ptrdiff_t>(n));
}

void spare_pool::clear() noexcept {
  for (const spare& s : spares_) ::close(s.fd);
  spares_.clear();
}

std::optional<spare_pool::time_point> spare_pool::next_expiry() const noexcept {
  if (spares_.empty()) return std::nullopt;
  return spares_.front().since + lifetime;
}

}  // namespace turnpike::server::net
