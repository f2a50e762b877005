// SPDX-License-Identifier: Apache-2.0
// Authentication attributes of RFC 8489: PASSWORD-ALGORITHM (section 14.12),
// PASSWORD-ALGORITHMS (14.11), USERHASH (14.4) and the NONCE cookie carrying the security
// feature bits (section 9.2, registry in 18.1).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/builder.hpp"
#include "protocol/bytes.hpp"
#include "protocol/result.hpp"

namespace turnpike::protocol {

enum class password_algorithm : std::uint16_t { md5 = 0x0001, sha256 = 0x0002 };

struct password_algorithm_value {
  std::uint16_t algorithm = 0;  // raw: unknown values are the caller's to reject (400)
  byte_span parameters;
};

// PASSWORD-ALGORITHM: algorithm, parameter length, parameters (padded to 4 bytes).
result<password_algorithm_value> decode_password_algorithm(byte_span value) noexcept;
message_builder& add_password_algorithm(message_builder& b, password_algorithm alg) noexcept;

// PASSWORD-ALGORITHMS: a list of PASSWORD-ALGORITHM values. The view is validated on decode;
// iteration yields each entry.
class password_algorithms_view {
 public:
  explicit password_algorithms_view(byte_span v) noexcept : v_(v) {}
  bool contains(std::uint16_t algorithm) const noexcept;
  // Raw value bytes, which must match byte-for-byte between 401 and request (section 9.2.4).
  byte_span bytes() const noexcept { return v_; }
  template <class F>
  void for_each(F&& f) const noexcept {
    for (std::size_t off = 0; off + 4 <= v_.size();) {
      const std::size_t plen = load_u16(v_.data() + off + 2);
      f(password_algorithm_value{load_u16(v_.data() + off), v_.subspan(off + 4, plen)});
      off += 4 + pad4(plen);
    }
  }

 private:
  byte_span v_;
};
result<password_algorithms_view> decode_password_algorithms(byte_span value) noexcept;
message_builder& add_password_algorithms(message_builder& b,
                                         std::span<const password_algorithm> algs) noexcept;

// USERHASH: SHA-256 of "username:realm", 32 bytes.
using userhash_value = std::array<std::uint8_t, 32>;
result<userhash_value> decode_userhash(byte_span value) noexcept;

// NONCE cookie (RFC 8489 section 9.2): "obMatJos2" then four base64 characters holding the
// 24-bit security feature set. Bit 0 of the registry is the most significant bit.
namespace security_feature {
inline constexpr std::uint32_t password_algorithms = 0x800000;
inline constexpr std::uint32_t username_anonymity = 0x400000;
}  // namespace security_feature
inline constexpr std::string_view nonce_cookie = "obMatJos2";
inline constexpr std::size_t nonce_cookie_size = 13;  // cookie + 4 base64 characters

// Feature bits if `nonce` starts with a well-formed cookie, nullopt otherwise.
std::optional<std::uint32_t> parse_nonce_cookie(std::string_view nonce) noexcept;
// Writes the 13-character cookie for `features` (low 24 bits) into `out`.
void write_nonce_cookie(std::uint32_t features, std::span<char, nonce_cookie_size> out) noexcept;

}  // namespace turnpike::protocol
