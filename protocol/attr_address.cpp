// SPDX-License-Identifier: Apache-2.0
// Encoding and decoding of STUN address attributes (RFC 8489 sections 14.1, 14.2).
#include "protocol/attr_address.hpp"

#include <algorithm>

#include "protocol/error.hpp"

namespace turnpike::protocol {
namespace {

// Family byte, then port and address; 8 bytes for IPv4, 20 for IPv6.
result<transport_address> decode_plain(byte_span v) noexcept {
  if (v.size() < 4) return make_error_code(errc::bad_attribute_length);
  transport_address a;
  switch (v[1]) {
    case 0x01:
      if (v.size() != 8) return make_error_code(errc::bad_attribute_length);
      a.family = address_family::ipv4;
      std::copy_n(v.begin() + 4, 4, a.ip.begin());
      break;
    case 0x02:
      if (v.size() != 20) return make_error_code(errc::bad_attribute_length);
      a.family = address_family::ipv6;
      std::copy_n(v.begin() + 4, 16, a.ip.begin());
      break;
    default:
      return make_error_code(errc::bad_address_family);
  }
  a.port = load_u16(v.data() + 2);
  return a;
}

std::size_t ip_length(address_family f) noexcept {
  return f == address_family::ipv4 ? 4 : 16;
}

// RFC 8489 section 14.2: port XOR the cookie's top 16 bits, address XOR cookie || tid.
void apply_xor(transport_address& a, byte_span tid) noexcept {
  a.port ^= static_cast<std::uint16_t>(magic_cookie >> 16);
  std::uint8_t mask[16];
  store_u32(mask, magic_cookie);
  std::copy_n(tid.begin(), 12, mask + 4);
  for (std::size_t i = 0; i < ip_length(a.family); ++i) a.ip[i] ^= mask[i];
}

}  // namespace

result<transport_address> decode_address(byte_span value) noexcept {
  return decode_plain(value);
}

result<transport_address> decode_xor_address(byte_span value, byte_span tid) noexcept {
  if (tid.size() != 12) return make_error_code(errc::bad_attribute_value);
  auto a = decode_plain(value);
  if (a) apply_xor(*a, tid);
  return a;
}

message_builder& add_address(message_builder& b, std::uint16_t type,
                             const transport_address& a) noexcept {
  const std::size_t n = ip_length(a.family);
  auto out = b.reserve(type, 4 + n);
  if (out.empty()) return b;
  out[0] = 0;
  out[1] = static_cast<std::uint8_t>(a.family);
  store_u16(out.data() + 2, a.port);
  std::copy_n(a.ip.begin(), n, out.begin() + 4);
  return b;
}

message_builder& add_xor_address(message_builder& b, std::uint16_t type,
                                 const transport_address& a) noexcept {
  transport_address x = a;
  apply_xor(x, b.tid());
  return add_address(b, type, x);
}

}  // namespace turnpike::protocol
