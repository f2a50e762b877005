// SPDX-License-Identifier: Apache-2.0
// ChannelData messages (RFC 8656 section 12.4): 2-byte channel number, 2-byte length, data.
// Over streams the message is padded to a multiple of 4 (section 12.5); over UDP padding is
// optional and trailing bytes past the length are ignored.
#pragma once

#include <cstdint>

#include "protocol/bytes.hpp"
#include "protocol/result.hpp"

namespace turnpike::protocol {

inline constexpr std::size_t channel_data_header_size = 4;
inline constexpr std::uint16_t channel_min = 0x4000;
inline constexpr std::uint16_t channel_max_rfc8656 = 0x4FFF;
inline constexpr std::uint16_t channel_max_rfc5766 = 0x7FFF;

struct channel_data_view {
  std::uint16_t channel = 0;
  byte_span data;
};

// First two bits 0b01: the only bytes that can start a ChannelData message (RFC 7983).
inline bool looks_like_channel_data(byte_span bytes) noexcept {
  return !bytes.empty() && (bytes[0] & 0xC0) == 0x40;
}

// Parses one ChannelData message from a datagram (trailing padding allowed).
result<channel_data_view> parse_channel_data(byte_span datagram) noexcept;

// Writes header and data into `out`; with `pad` the result is padded with zeros to a multiple
// of 4 as streams need. Returns the number of bytes written.
result<std::size_t> write_channel_data(mutable_byte_span out, std::uint16_t channel, byte_span data,
                                       bool pad) noexcept;

}  // namespace turnpike::protocol
