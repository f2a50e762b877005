// SPDX-License-Identifier: Apache-2.0
// RFC 5780 and RFC 8016 attribute encoding.
#include "protocol/attr_nat.hpp"

#include <cstring>

#include "protocol/error.hpp"
#include "protocol/types.hpp"

namespace turnpike::protocol {

result<change_request_value> decode_change_request(byte_span value) noexcept {
  if (value.size() != 4) return make_error_code(errc::bad_attribute_length);
  const std::uint32_t flags = load_u32(value.data());
  return change_request_value{(flags & 0x4) != 0, (flags & 0x2) != 0};
}

message_builder& add_change_request(message_builder& b, change_request_value v) noexcept {
  return b.add_u32(attr::change_request, (v.change_ip ? 0x4u : 0u) | (v.change_port ? 0x2u : 0u));
}

result<std::uint16_t> decode_response_port(byte_span value) noexcept {
  if (value.size() != 4) return make_error_code(errc::bad_attribute_length);
  return load_u16(value.data());
}

message_builder& add_response_port(message_builder& b, std::uint16_t port) noexcept {
  return b.add_u32(attr::response_port, std::uint32_t{port} << 16);
}

message_builder& add_padding(message_builder& b, std::size_t length) noexcept {
  auto out = b.reserve(attr::padding, length);
  if (!out.empty()) std::memset(out.data(), 0, out.size());
  return b;
}

result<byte_span> decode_mobility_ticket(byte_span value) noexcept {
  if (value.empty()) return make_error_code(errc::bad_attribute_length);
  return value;
}

}  // namespace turnpike::protocol
