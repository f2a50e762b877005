// SPDX-License-Identifier: Apache-2.0
// ERROR-CODE, UNKNOWN-ATTRIBUTES and ADDRESS-ERROR-CODE encoding (RFC 8489 section 14.8).
#include "protocol/attr_error.hpp"

#include <cstring>

#include "protocol/attr_text.hpp"
#include "protocol/error.hpp"

namespace turnpike::protocol {

std::string_view default_reason(int code) noexcept {
  switch (code) {
    case error::try_alternate:
      return "Try Alternate";
    case error::bad_request:
      return "Bad Request";
    case error::unauthenticated:
      return "Unauthenticated";
    case error::forbidden:
      return "Forbidden";
    case error::mobility_forbidden:
      return "Mobility Forbidden";
    case error::unknown_attribute:
      return "Unknown Attribute";
    case error::allocation_mismatch:
      return "Allocation Mismatch";
    case error::stale_nonce:
      return "Stale Nonce";
    case error::address_family_not_supported:
      return "Address Family not Supported";
    case error::wrong_credentials:
      return "Wrong Credentials";
    case error::unsupported_transport_protocol:
      return "Unsupported Transport Protocol";
    case error::peer_address_family_mismatch:
      return "Peer Address Family Mismatch";
    case error::connection_already_exists:
      return "Connection Already Exists";
    case error::connection_timeout_or_failure:
      return "Connection Timeout or Failure";
    case error::allocation_quota_reached:
      return "Allocation Quota Reached";
    case error::server_error:
      return "Server Error";
    case error::insufficient_capacity:
      return "Insufficient Capacity";
    default:
      return {};
  }
}

namespace {

// Class in the low three bits of byte 2, number (0-99) in byte 3; reason after.
result<int> decode_class_number(byte_span v) noexcept {
  const int cls = v[2] & 0x07;
  const int number = v[3];
  if (cls < 3 || cls > 6 || number > 99) return make_error_code(errc::bad_attribute_value);
  return cls * 100 + number;
}

result<std::string_view> decode_reason(byte_span v) noexcept {
  return decode_text(attr::error_code, v.subspan(4));
}

message_builder& add_coded(message_builder& b, std::uint16_t type, std::uint8_t first, int code,
                           std::string_view reason) noexcept {
  if (code < 300 || code > 699 || !text_fits(attr::error_code, reason)) {
    // A caller bug, not a wire problem: refuse to emit an invalid attribute.
    return b.fail(make_error_code(errc::bad_attribute_value));
  }
  auto out = b.reserve(type, 4 + reason.size());
  if (out.empty()) return b;
  out[0] = first;
  out[1] = 0;
  out[2] = static_cast<std::uint8_t>(code / 100);
  out[3] = static_cast<std::uint8_t>(code % 100);
  // An empty reason may be a default string_view whose data() is null: copy nothing then.
  if (!reason.empty()) std::memcpy(out.data() + 4, reason.data(), reason.size());
  return b;
}

}  // namespace

result<error_code_value> decode_error_code(byte_span value) noexcept {
  if (value.size() < 4) return make_error_code(errc::bad_attribute_length);
  auto code = decode_class_number(value);
  if (!code) return code.error();
  auto reason = decode_reason(value);
  if (!reason) return reason.error();
  return error_code_value{*code, *reason};
}

message_builder& add_error_code(message_builder& b, int code, std::string_view reason) noexcept {
  return add_coded(b, attr::error_code, 0, code, reason);
}

result<unknown_attributes_view> decode_unknown_attributes(byte_span value) noexcept {
  if (value.size() % 2 != 0) return make_error_code(errc::bad_attribute_length);
  return unknown_attributes_view(value);
}

message_builder& add_unknown_attributes(message_builder& b,
                                        std::span<const std::uint16_t> types) noexcept {
  auto out = b.reserve(attr::unknown_attributes, types.size() * 2);
  for (std::size_t i = 0; i < types.size() && !out.empty(); ++i) {
    store_u16(out.data() + 2 * i, types[i]);
  }
  return b;
}

result<address_error_value> decode_address_error_code(byte_span value) noexcept {
  if (value.size() < 4) return make_error_code(errc::bad_attribute_length);
  if (value[0] != 0x01 && value[0] != 0x02) return make_error_code(errc::bad_address_family);
  auto code = decode_class_number(value);
  if (!code) return code.error();
  auto reason = decode_reason(value);
  if (!reason) return reason.error();
  return address_error_value{static_cast<address_family>(value[0]), *code, *reason};
}

message_builder& add_address_error_code(message_builder& b, address_family family, int code,
                                        std::string_view reason) noexcept {
  return add_coded(b, attr::address_error_code, static_cast<std::uint8_t>(family), code, reason);
}

}  // namespace turnpike::protocol
