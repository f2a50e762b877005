// SPDX-License-Identifier: Apache-2.0
#include "server/engine/challenge_budget.hpp"

namespace turnpike::server::engine {

std::size_t challenge_budget::hash(const protocol::transport_address& source) noexcept {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over family and address
  h = (h ^ static_cast<std::uint8_t>(source.family)) * 1099511628211ull;
  for (const std::uint8_t b : source.ip) h = (h ^ b) * 1099511628211ull;
  return static_cast<std::size_t>(h ^ (h >> 32));
}

bool challenge_budget::proven(const protocol::transport_address& source,
                              std::int64_t unix_second) const noexcept {
  const proof& p = proofs_[hash(source) % proofs_.size()];
  return p.until != 0 && unix_second <= p.until && p.ip.family == source.family &&
         p.ip.ip == source.ip;
}

void challenge_budget::prove(const protocol::transport_address& source,
                             std::int64_t unix_second) noexcept {
  proof& p = proofs_[hash(source) % proofs_.size()];
  p.ip = source;
  p.ip.port = 0;
  p.until = unix_second + proven_for_.count();
}

bool challenge_budget::allow(const protocol::transport_address& source,
                             std::int64_t unix_second) noexcept {
  const unsigned limit = proven(source, unix_second) ? proven_per_second_ : per_second_;
  if (per_second_ == 0 || limit == 0) return true;
  bucket& b = buckets_[hash(source) % buckets_.size()];
  if (b.second != unix_second) b = {unix_second, 0};
  if (b.used >= limit) return false;
  ++b.used;
  return true;
}

}  // namespace turnpike::server::engine
