// SPDX-License-Identifier: Apache-2.0
// Address attributes: MAPPED-ADDRESS, ALTERNATE-SERVER, RESPONSE-ORIGIN, OTHER-ADDRESS (plain)
// and XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (XOR-ed with the magic
// cookie and transaction ID). RFC 8489 sections 14.1, 14.2; RFC 8656 sections 18.3, 18.5;
// RFC 5780 sections 7.3, 7.4.
#pragma once

#include "protocol/builder.hpp"
#include "protocol/bytes.hpp"
#include "protocol/result.hpp"
#include "protocol/types.hpp"

namespace turnpike::protocol {

result<transport_address> decode_address(byte_span value) noexcept;
// `tid` is the 12-byte transaction ID of the message carrying the attribute.
result<transport_address> decode_xor_address(byte_span value, byte_span tid) noexcept;

message_builder& add_address(message_builder& b, std::uint16_t type,
                             const transport_address& a) noexcept;
message_builder& add_xor_address(message_builder& b, std::uint16_t type,
                                 const transport_address& a) noexcept;

}  // namespace turnpike::protocol
