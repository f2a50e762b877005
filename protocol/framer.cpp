// SPDX-License-Identifier: Apache-2.0
// Stream framer (RFC 8656 section 12.5; RFC 7983 first-byte demultiplexing).
#include "protocol/framer.hpp"

#include "protocol/types.hpp"

namespace turnpike::protocol {

frame next_frame(byte_span buffered) noexcept {
  frame f;
  if (buffered.empty()) return f;
  const std::uint8_t first = buffered[0];
  if ((first & 0xC0) == 0x40) {
    // ChannelData: 4-byte header, data, zero padding to a multiple of four.
    f.kind = frame_kind::channel_data;
    if (buffered.size() < 4) return f;
    f.message_size = 4 + std::size_t{load_u16(buffered.data() + 2)};
    f.size = pad4(f.message_size);
  } else if ((first & 0xC0) == 0x00) {
    // STUN: 20-byte header whose length field counts the attributes (a multiple of four).
    f.kind = frame_kind::stun;
    if (buffered.size() < 4) return f;
    const std::size_t length = load_u16(buffered.data() + 2);
    if (length % 4 != 0) {
      f.status = frame_status::invalid;
      return f;
    }
    if (buffered.size() >= 8 && load_u32(buffered.data() + 4) != magic_cookie) {
      f.status = frame_status::invalid;
      return f;
    }
    f.message_size = header_size + length;
    f.size = f.message_size;
  } else {
    f.status = frame_status::invalid;
    return f;
  }
  f.status = buffered.size() >= f.size ? frame_status::complete : frame_status::need_more;
  return f;
}

}  // namespace turnpike::protocol
