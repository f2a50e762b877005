// SPDX-License-Identifier: Apache-2.0
// Text attributes and their RFC length limits: USERNAME (fewer than 513 bytes, as RFC 5389
// allowed), REALM, NONCE, SOFTWARE and ERROR-CODE reasons (fewer than 128 characters and at
// most 763 bytes), ALTERNATE-DOMAIN (fewer than 256 bytes). RFC 8489 sections 14.3, 14.9,
// 14.10, 14.14, 14.16.
#pragma once

#include <cstdint>
#include <string_view>

#include "protocol/builder.hpp"
#include "protocol/bytes.hpp"
#include "protocol/result.hpp"

namespace turnpike::protocol {

// True when `text` is within the limits of attribute `type` (and is valid UTF-8).
bool text_fits(std::uint16_t type, std::string_view text) noexcept;

// Returns the attribute value as text, or value_too_long / bad_attribute_value.
result<std::string_view> decode_text(std::uint16_t type, byte_span value) noexcept;

// Adds a text attribute; a value past the limit fails the builder with value_too_long.
message_builder& add_text(message_builder& b, std::uint16_t type, std::string_view text) noexcept;

}  // namespace turnpike::protocol
