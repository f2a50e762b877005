// SPDX-License-Identifier: Apache-2.0
// Per-IP admission of a shard's streams (TCP, TLS, DTLS sessions): at most `per_ip` open at
// once from one client IP on this shard (0: no limit). Every admitted stream is released
// exactly once: when its connection closes, or when it never became one.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "protocol/types.hpp"
#include "server/net/address_hash.hpp"

namespace turnpike::server::net {

class stream_admission {
 public:
  explicit stream_admission(unsigned per_ip = 0) noexcept : per_ip_(per_ip) {}
  // Counts a stream against `remote`'s IP; false (not counted, refusal counted) when that IP
  // has per_ip open already.
  bool admit(const protocol::transport_address& remote) noexcept;
  void release(const protocol::transport_address& remote) noexcept;
  std::uint64_t refused() const noexcept { return refused_; }
  unsigned open_from(const protocol::transport_address& remote) const noexcept;

 private:
  unsigned per_ip_;
  std::uint64_t refused_ = 0;
  // Open streams per client IP (port zeroed).
  std::unordered_map<protocol::transport_address, unsigned, address_hash> open_;
};

}  // namespace turnpike::server::net
