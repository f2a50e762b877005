// SPDX-License-Identifier: Apache-2.0
// ERROR-CODE with reason phrases, UNKNOWN-ATTRIBUTES and ADDRESS-ERROR-CODE.
// RFC 8489 sections 14.8, 14.9; RFC 8656 sections 18.13, 19; RFC 6062 section 6.3;
// RFC 8016 section 3.2.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/builder.hpp"
#include "protocol/bytes.hpp"
#include "protocol/result.hpp"
#include "protocol/types.hpp"

namespace turnpike::protocol {

// Error codes named by the STUN/TURN RFCs.
namespace error {
inline constexpr int try_alternate = 300;
inline constexpr int bad_request = 400;
inline constexpr int unauthenticated = 401;
inline constexpr int forbidden = 403;
inline constexpr int mobility_forbidden = 405;
inline constexpr int unknown_attribute = 420;
inline constexpr int allocation_mismatch = 437;
inline constexpr int stale_nonce = 438;
inline constexpr int address_family_not_supported = 440;
inline constexpr int wrong_credentials = 441;
inline constexpr int unsupported_transport_protocol = 442;
inline constexpr int peer_address_family_mismatch = 443;
inline constexpr int connection_already_exists = 446;
inline constexpr int connection_timeout_or_failure = 447;
inline constexpr int allocation_quota_reached = 486;
inline constexpr int server_error = 500;
inline constexpr int insufficient_capacity = 508;
}  // namespace error

// The RFC's reason phrase for `code`, or "" for codes no RFC names.
std::string_view default_reason(int code) noexcept;

struct error_code_value {
  int code = 0;  // 300-699
  std::string_view reason;
};

result<error_code_value> decode_error_code(byte_span value) noexcept;
// Writes ERROR-CODE; `reason` may be empty (reason phrases are optional on the wire).
message_builder& add_error_code(message_builder& b, int code, std::string_view reason) noexcept;

// UNKNOWN-ATTRIBUTES: a list of 16-bit types.
class unknown_attributes_view {
 public:
  explicit unknown_attributes_view(byte_span v) noexcept : v_(v) {}
  std::size_t size() const noexcept { return v_.size() / 2; }
  std::uint16_t operator[](std::size_t i) const noexcept { return load_u16(v_.data() + 2 * i); }

 private:
  byte_span v_;
};
result<unknown_attributes_view> decode_unknown_attributes(byte_span value) noexcept;
message_builder& add_unknown_attributes(message_builder& b,
                                        std::span<const std::uint16_t> types) noexcept;

// ADDRESS-ERROR-CODE (RFC 8656 section 18.13): which family of a dual allocation failed.
struct address_error_value {
  address_family family = address_family::ipv4;
  int code = 0;
  std::string_view reason;
};
result<address_error_value> decode_address_error_code(byte_span value) noexcept;
message_builder& add_address_error_code(message_builder& b, address_family family, int code,
                                        std::string_view reason) noexcept;

}  // namespace turnpike::protocol
