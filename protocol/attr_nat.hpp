// SPDX-License-Identifier: Apache-2.0
// NAT behaviour discovery attributes: CHANGE-REQUEST, RESPONSE-PORT and PADDING (RFC 5780
// sections 7.2, 7.5, 7.6; RESPONSE-ORIGIN and OTHER-ADDRESS are address attributes), and
// MOBILITY-TICKET (RFC 8016 section 3.1).
#pragma once

#include <cstdint>

#include "protocol/builder.hpp"
#include "protocol/bytes.hpp"
#include "protocol/result.hpp"

namespace turnpike::protocol {

struct change_request_value {
  bool change_ip = false;    // flag A (0x4)
  bool change_port = false;  // flag B (0x2)
  friend bool operator==(const change_request_value&, const change_request_value&) = default;
};
result<change_request_value> decode_change_request(byte_span value) noexcept;
message_builder& add_change_request(message_builder& b, change_request_value v) noexcept;

// RESPONSE-PORT: 16-bit port then 16 reserved bits.
result<std::uint16_t> decode_response_port(byte_span value) noexcept;
message_builder& add_response_port(message_builder& b, std::uint16_t port) noexcept;

// PADDING: `length` zero bytes (its content carries no meaning).
message_builder& add_padding(message_builder& b, std::size_t length) noexcept;

// MOBILITY-TICKET: opaque to everyone but the server that issued it; must be non-empty.
result<byte_span> decode_mobility_ticket(byte_span value) noexcept;

}  // namespace turnpike::protocol
