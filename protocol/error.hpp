// SPDX-License-Identifier: Apache-2.0
// Error codes of the protocol layer (wire-format problems), as a std::error_code category.
#pragma once

#include <system_error>

namespace turnpike::protocol {

enum class errc {
  ok = 0,
  truncated,                    // fewer bytes than a header or a declared length needs
  not_stun,                     // first two bits are not zero
  bad_length,                   // message length not a multiple of 4 or not matching the datagram
  bad_magic_cookie,             // RFC 8489 section 6: 0x2112A442 missing
  attribute_overflow,           // an attribute runs past the end of the message
  attribute_after_fingerprint,  // RFC 8489 section 14.7: FINGERPRINT must be last
  bad_attribute_length,         // an attribute's length is invalid for its type
  bad_attribute_value,          // an attribute's value is invalid for its type
  bad_address_family,           // address family neither 0x01 nor 0x02
  value_too_long,               // text attribute past its RFC limit
  buffer_too_small,             // builder ran out of room
  fingerprint_mismatch,
  integrity_mismatch,
  missing_attribute,
  not_channel_data,    // first two bits are not 0b01
  bad_channel_number,  // outside 0x4000-0x7FFF (wire) or the configured range
  bad_frame,           // stream framer: cannot be STUN or ChannelData
  crypto_failure,      // OpenSSL reported an error
};

const std::error_category& protocol_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), protocol_category()};
}

}  // namespace turnpike::protocol

template <>
struct std::is_error_code_enum<turnpike::protocol::errc> : std::true_type {};
