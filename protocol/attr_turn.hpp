// SPDX-License-Identifier: Apache-2.0
// TURN attributes: CHANNEL-NUMBER, LIFETIME, DATA, REQUESTED-ADDRESS-FAMILY, EVEN-PORT,
// REQUESTED-TRANSPORT, DONT-FRAGMENT, RESERVATION-TOKEN, ADDITIONAL-ADDRESS-FAMILY, ICMP
// (RFC 8656 section 18) and CONNECTION-ID (RFC 6062 section 6.2.1).
#pragma once

#include <array>
#include <cstdint>

#include "protocol/builder.hpp"
#include "protocol/bytes.hpp"
#include "protocol/result.hpp"
#include "protocol/types.hpp"

namespace turnpike::protocol {

// IANA protocol numbers carried in REQUESTED-TRANSPORT.
inline constexpr std::uint8_t transport_udp = 17;
inline constexpr std::uint8_t transport_tcp = 6;

// CHANNEL-NUMBER: 16-bit number then 16 reserved bits. The range check (0x4000-0x4FFF, or
// up to 0x7FFF for RFC 5766 clients) is policy and belongs to the engine.
result<std::uint16_t> decode_channel_number(byte_span value) noexcept;
message_builder& add_channel_number(message_builder& b, std::uint16_t channel) noexcept;

// Any attribute whose value is exactly one 32-bit integer: LIFETIME, CONNECTION-ID.
result<std::uint32_t> decode_u32(byte_span value) noexcept;

// REQUESTED-TRANSPORT: protocol number then 24 reserved bits.
result<std::uint8_t> decode_requested_transport(byte_span value) noexcept;
message_builder& add_requested_transport(message_builder& b, std::uint8_t protocol) noexcept;

// REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY: family then 24 reserved bits. A family
// other than 0x01/0x02 decodes to bad_address_family (the engine answers 440).
result<address_family> decode_address_family(byte_span value) noexcept;
message_builder& add_address_family(message_builder& b, std::uint16_t type,
                                    address_family family) noexcept;

// EVEN-PORT: one byte whose top bit R asks to reserve the next port as well.
result<bool> decode_even_port(byte_span value) noexcept;
message_builder& add_even_port(message_builder& b, bool reserve_next) noexcept;

// DONT-FRAGMENT: no value.
result<bool> decode_dont_fragment(byte_span value) noexcept;

using reservation_token = std::array<std::uint8_t, 8>;
result<reservation_token> decode_reservation_token(byte_span value) noexcept;

// ICMP: 16 reserved bits, ICMP type, ICMP code, 32 bits of error data.
struct icmp_value {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint32_t error_data = 0;
  friend bool operator==(const icmp_value&, const icmp_value&) = default;
};
result<icmp_value> decode_icmp(byte_span value) noexcept;
message_builder& add_icmp(message_builder& b, const icmp_value& v) noexcept;

}  // namespace turnpike::protocol
