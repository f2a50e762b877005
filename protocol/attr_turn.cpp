// SPDX-License-Identifier: Apache-2.0
// Fixed-size TURN attributes (RFC 8656 section 18, RFC 6062 section 6.2.1).
#include "protocol/attr_turn.hpp"

#include <algorithm>

#include "protocol/error.hpp"

namespace turnpike::protocol {
namespace {

std::error_code bad_length() noexcept {
  return make_error_code(errc::bad_attribute_length);
}

message_builder& add_first_byte(message_builder& b, std::uint16_t type, std::uint8_t v) noexcept {
  return b.add_u32(type, std::uint32_t{v} << 24);
}

}  // namespace

result<std::uint16_t> decode_channel_number(byte_span value) noexcept {
  if (value.size() != 4) return bad_length();
  return load_u16(value.data());
}

message_builder& add_channel_number(message_builder& b, std::uint16_t channel) noexcept {
  return b.add_u32(attr::channel_number, std::uint32_t{channel} << 16);
}

result<std::uint32_t> decode_u32(byte_span value) noexcept {
  if (value.size() != 4) return bad_length();
  return load_u32(value.data());
}

result<std::uint8_t> decode_requested_transport(byte_span value) noexcept {
  if (value.size() != 4) return bad_length();
  return value[0];
}

message_builder& add_requested_transport(message_builder& b, std::uint8_t protocol) noexcept {
  return add_first_byte(b, attr::requested_transport, protocol);
}

result<address_family> decode_address_family(byte_span value) noexcept {
  if (value.size() != 4) return bad_length();
  if (value[0] != 0x01 && value[0] != 0x02) return make_error_code(errc::bad_address_family);
  return static_cast<address_family>(value[0]);
}

message_builder& add_address_family(message_builder& b, std::uint16_t type,
                                    address_family family) noexcept {
  return add_first_byte(b, type, static_cast<std::uint8_t>(family));
}

result<bool> decode_even_port(byte_span value) noexcept {
  if (value.size() != 1) return {boost::system::in_place_error, bad_length()};
  return (value[0] & 0x80) != 0;
}

message_builder& add_even_port(message_builder& b, bool reserve_next) noexcept {
  const std::uint8_t v = reserve_next ? 0x80 : 0x00;
  return b.add(attr::even_port, byte_span(&v, 1));
}

result<bool> decode_dont_fragment(byte_span value) noexcept {
  if (!value.empty()) return {boost::system::in_place_error, bad_length()};
  return true;
}

result<reservation_token> decode_reservation_token(byte_span value) noexcept {
  if (value.size() != 8) return bad_length();
  reservation_token t;
  std::copy_n(value.begin(), 8, t.begin());
  return t;
}

result<icmp_value> decode_icmp(byte_span value) noexcept {
  if (value.size() != 8) return bad_length();
  return icmp_value{value[2], value[3], load_u32(value.data() + 4)};
}

message_builder& add_icmp(message_builder& b, const icmp_value& v) noexcept {
  auto out = b.reserve(attr::icmp, 8);
  if (out.empty()) return b;
  out[0] = 0;
  out[1] = 0;
  out[2] = v.type;
  out[3] = v.code;
  store_u32(out.data() + 4, v.error_data);
  return b;
}

}  // namespace turnpike::protocol
