// SPDX-License-Identifier: Apache-2.0
// ChannelData parsing and writing (RFC 8656 sections 12.4, 12.5).
#include "protocol/channel_data.hpp"

#include <cstring>

#include "protocol/error.hpp"

namespace turnpike::protocol {

result<channel_data_view> parse_channel_data(byte_span datagram) noexcept {
  if (datagram.size() < channel_data_header_size) return make_error_code(errc::truncated);
  if (!looks_like_channel_data(datagram)) return make_error_code(errc::not_channel_data);
  const std::size_t len = load_u16(datagram.data() + 2);
  // Section 12.5: a datagram too short for the claimed length is discarded.
  if (len > datagram.size() - channel_data_header_size) return make_error_code(errc::truncated);
  return channel_data_view{load_u16(datagram.data()),
                           datagram.subspan(channel_data_header_size, len)};
}

result<std::size_t> write_channel_data(mutable_byte_span out, std::uint16_t channel, byte_span data,
                                       bool pad) noexcept {
  if ((channel & 0xC000) != 0x4000) return make_error_code(errc::bad_channel_number);
  if (data.size() > 0xFFFF) return make_error_code(errc::value_too_long);
  const std::size_t body = channel_data_header_size + data.size();
  const std::size_t total = pad ? pad4(body) : body;
  if (out.size() < total) return make_error_code(errc::buffer_too_small);
  store_u16(out.data(), channel);
  store_u16(out.data() + 2, static_cast<std::uint16_t>(data.size()));
  if (!data.empty()) std::memmove(out.data() + channel_data_header_size, data.data(), data.size());
  std::memset(out.data() + body, 0, total - body);
  return total;
}

}  // namespace turnpike::protocol
