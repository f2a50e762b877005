// SPDX-License-Identifier: Apache-2.0
// Stateless nonces (RFC 8489 section 9.2, RFC 8656 section 7.2): the server keeps no nonce
// table. A nonce is the RFC 8489 cookie with the security feature bits, the issue time, and a
// truncated HMAC-SHA1 over (feature bits, time, client IP) under a secret that every server
// of a fleet may share. A nonce is valid for `lifetime` after it was issued (lifetime 0: for
// ever, coturn's stale-nonce=0), and only from the client IP it was issued to.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "protocol/types.hpp"

namespace turnpike::server::engine {

class nonce_codec {
 public:
  static constexpr std::size_t size = 13 + 8 + 16;  // cookie+features, time hex, MAC hex

  nonce_codec(std::array<std::uint8_t, 32> secret, std::chrono::seconds lifetime,
              std::uint32_t features) noexcept
      : secret_(secret), lifetime_(lifetime), features_(features) {}

  // `unix_now`: seconds since the epoch (the caller's clock).
  std::array<char, size> make(std::int64_t unix_now,
                              const protocol::transport_address& client) const noexcept;

  enum class verdict { valid, stale, invalid };
  verdict check(std::string_view nonce, std::int64_t unix_now,
                const protocol::transport_address& client) const noexcept;

  std::uint32_t features() const noexcept { return features_; }

 private:
  void mac(std::uint32_t issued, const protocol::transport_address& client,
           char out[16]) const noexcept;

  std::array<std::uint8_t, 32> secret_;
  std::chrono::seconds lifetime_;
  std::uint32_t features_;
};

}  // namespace turnpike::server::engine
