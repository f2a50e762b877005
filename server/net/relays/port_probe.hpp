// SPDX-License-Identifier: Apache-2.0
// The one way a port is found in a range: random candidates (so ports are spread and hard to
// guess), each offered to `take`, which binds what it needs on that port and says whether it
// could. Used by UDP relays (with EVEN-PORT's even port and reserved next one), TCP relays
// and the listen plan's free port.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>

namespace turnpike::server::net {

class port_probe {
 public:
  static constexpr int attempts = 64;
  // [lo, hi]; `rng` is the caller's (one per thread).
  port_probe(std::uint16_t lo, std::uint16_t hi, std::minstd_rand& rng) noexcept
      : lo_(lo), hi_(hi), rng_(rng) {}
  // A port `take` accepted: even with `even`; with `pair`, port+1 is in range too. Nothing
  // after `attempts` candidates.
  std::optional<std::uint16_t> find(const std::function<bool(std::uint16_t)>& take,
                                    bool even = false, bool pair = false) const;

 private:
  std::uint16_t lo_;
  std::uint16_t hi_;
  std::minstd_rand& rng_;
};

}  // namespace turnpike::server::net
