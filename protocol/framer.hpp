// SPDX-License-Identifier: Apache-2.0
// Stream framing for TURN over TCP and TLS (RFC 8656 section 12.5, RFC 8489 section 6.2.2):
// tells where the next STUN message or padded ChannelData message ends in a byte stream, or
// that more bytes are needed, or that the stream cannot be STUN/TURN. Stateless and
// allocation-free: the caller owns the buffer and consumes `size` bytes per complete frame.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protocol/bytes.hpp"

namespace turnpike::protocol {

enum class frame_kind : std::uint8_t { stun, channel_data };
enum class frame_status : std::uint8_t { complete, need_more, invalid };

struct frame {
  frame_status status = frame_status::need_more;
  frame_kind kind = frame_kind::stun;
  std::size_t message_size = 0;  // bytes of the message itself (ChannelData without padding)
  std::size_t size = 0;          // bytes to consume: message plus stream padding
};

// The largest frame a stream can carry: a ChannelData message with 65535 bytes of data,
// padded. A receive buffer of this size always holds at least one whole frame.
inline constexpr std::size_t max_frame_size = 4 + 65536;

// Looks at the start of `buffered` (bytes received and not yet consumed).
frame next_frame(byte_span buffered) noexcept;

}  // namespace turnpike::protocol
