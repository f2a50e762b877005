// SPDX-License-Identifier: Apache-2.0
#include "server/net/relays/port_probe.hpp"

namespace turnpike::server::net {

std::optional<std::uint16_t> port_probe::find(const std::function<bool(std::uint16_t)>& take,
                                              bool even, bool pair) const {
  if (hi_ < lo_) return std::nullopt;
  const unsigned span = unsigned{hi_} - lo_ + 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    unsigned port = lo_ + static_cast<unsigned>(rng_() % span);
    if (even) port &= ~1u;
    if (port < lo_ || (pair && port + 1 > hi_)) continue;
    if (take(static_cast<std::uint16_t>(port))) return static_cast<std::uint16_t>(port);
  }
  return std::nullopt;
}

}  // namespace turnpike::server::net
