// SPDX-License-Identifier: Apache-2.0
// How many unauthenticated answers (401 challenges, 438 stale nonces) one source IP is sent
// per second. Such an answer is larger than the request that asks for it, so a flood with a
// spoofed source address would reflect answers at a victim; the per-second budget bounds
// that. A source that has recently sent a correctly signed request has shown that it receives
// our answers at that address (a spoofer never sees the nonce it would have to sign), so it
// gets the larger `proven_per_second` budget: hundreds of clients behind one office NAT can
// open allocations at once.
//
// Both tables are fixed-size and direct-mapped. Budgets are counted per bucket, not per IP:
// two IPs that share a bucket share one budget, so a collision can only lower what an IP is
// sent, never raise it. A proven IP whose slot is taken by another loses the larger budget
// until it signs again.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "protocol/types.hpp"

namespace turnpike::server::engine {

class challenge_budget {
 public:
  // 0 for either budget: unlimited.
  challenge_budget(unsigned per_second, unsigned proven_per_second,
                   std::chrono::seconds proven_for) noexcept
      : per_second_(per_second), proven_per_second_(proven_per_second), proven_for_(proven_for) {}

  // Whether one more unauthenticated answer may go to `source` (its port is ignored) in second
  // `unix_second`; counts it when so.
  bool allow(const protocol::transport_address& source, std::int64_t unix_second) noexcept;
  // `source` sent a request whose MESSAGE-INTEGRITY checked out.
  void prove(const protocol::transport_address& source, std::int64_t unix_second) noexcept;
  bool proven(const protocol::transport_address& source, std::int64_t unix_second) const noexcept;

 private:
  static std::size_t hash(const protocol::transport_address& source) noexcept;

  struct bucket {
    std::int64_t second = -1;
    unsigned used = 0;
  };
  struct proof {
    protocol::transport_address ip;  // port 0
    std::int64_t until = 0;          // unix seconds; 0: empty
  };
  unsigned per_second_;
  unsigned proven_per_second_;
  std::chrono::seconds proven_for_;
  std::array<bucket, 4096> buckets_{};
  std::array<proof, 4096> proofs_{};
};

}  // namespace turnpike::server::engine
