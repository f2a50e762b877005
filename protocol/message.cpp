// SPDX-License-Identifier: Apache-2.0
// Validation and look-up for message_view (RFC 8489 sections 6, 6.3, 14.5-14.7).
#include "protocol/message.hpp"

#include <algorithm>

#include "protocol/error.hpp"

namespace turnpike::protocol {

attribute attribute_iterator::operator*() const noexcept {
  const std::uint8_t* p = msg_.data() + offset_;
  attribute a;
  a.type = load_u16(p);
  a.value = msg_.subspan(offset_ + attribute_header_size, load_u16(p + 2));
  a.offset = static_cast<std::uint16_t>(offset_);
  return a;
}

attribute_iterator& attribute_iterator::operator++() noexcept {
  offset_ += attribute_header_size + pad4(load_u16(msg_.data() + offset_ + 2));
  return *this;
}

bool message_view::looks_like_stun(byte_span bytes) noexcept {
  return bytes.size() >= header_size && (bytes[0] & 0xC0) == 0 &&
         load_u32(bytes.data() + 4) == magic_cookie;
}

result<message_view> message_view::parse(byte_span bytes) noexcept {
  // RFC 8489 section 6.3: the fixed header.
  if (bytes.size() < header_size) return make_error_code(errc::truncated);
  if ((bytes[0] & 0xC0) != 0) return make_error_code(errc::not_stun);
  const std::size_t length = load_u16(bytes.data() + 2);
  if (length % 4 != 0) return make_error_code(errc::bad_length);
  if (header_size + length != bytes.size()) {
    return make_error_code(header_size + length > bytes.size() ? errc::truncated
                                                               : errc::bad_length);
  }
  if (load_u32(bytes.data() + 4) != magic_cookie) return make_error_code(errc::bad_magic_cookie);

  message_view v;
  v.bytes_ = bytes;
  v.counted_end_ = static_cast<std::uint16_t>(bytes.size());
  std::size_t off = header_size;
  while (off < bytes.size()) {
    if (bytes.size() - off < attribute_header_size)
      return make_error_code(errc::attribute_overflow);
    if (v.fp_offset_ != 0) return make_error_code(errc::attribute_after_fingerprint);
    const std::uint16_t type = load_u16(bytes.data() + off);
    const std::size_t len = load_u16(bytes.data() + off + 2);
    if (pad4(len) > bytes.size() - off - attribute_header_size) {
      return make_error_code(errc::attribute_overflow);
    }
    const auto here = static_cast<std::uint16_t>(off);
    switch (type) {
      case attr::message_integrity:
        // RFC 8489 section 14.5: 20 bytes of HMAC-SHA1.
        if (len != 20) return make_error_code(errc::bad_attribute_length);
        if (v.mi_offset_ == 0 && v.mi256_offset_ == 0) {
          v.mi_offset_ = here;
          v.counted_end_ = here;
        }
        break;
      case attr::message_integrity_sha256:
        // RFC 8489 section 14.6: 16 to 32 bytes, a multiple of four.
        if (len < 16 || len > 32 || len % 4 != 0) {
          return make_error_code(errc::bad_attribute_length);
        }
        if (v.mi256_offset_ == 0) {
          v.mi256_offset_ = here;
          v.counted_end_ = std::min(v.counted_end_, here);
        }
        break;
      case attr::fingerprint:
        if (len != 4) return make_error_code(errc::bad_attribute_length);
        v.fp_offset_ = here;
        v.counted_end_ = std::min(v.counted_end_, here);
        break;
      default:
        break;
    }
    off += attribute_header_size + pad4(len);
  }
  return v;
}

transaction_id message_view::tid() const noexcept {
  transaction_id t;
  std::copy_n(bytes_.data() + 8, t.size(), t.begin());
  return t;
}

attribute_range message_view::attributes() const noexcept {
  return {attribute_iterator(bytes_, header_size), attribute_iterator(bytes_, bytes_.size())};
}

std::optional<attribute> message_view::at(std::uint16_t offset) const noexcept {
  if (offset == 0) return std::nullopt;
  return *attribute_iterator(bytes_, offset);
}

std::optional<attribute> message_view::find(std::uint16_t type) const noexcept {
  switch (type) {
    case attr::message_integrity:
      return message_integrity();
    case attr::message_integrity_sha256:
      return message_integrity_sha256();
    case attr::fingerprint:
      return fingerprint();
    default:
      break;
  }
  for (attribute_iterator it(bytes_, header_size), end(bytes_, counted_end_); it != end; ++it) {
    const attribute a = *it;
    if (a.type == type) return a;
  }
  return std::nullopt;
}

std::size_t message_view::unknown_comprehension_required(
    std::span<std::uint16_t> out) const noexcept {
  std::size_t found = 0;
  std::size_t written = 0;
  for (attribute_iterator it(bytes_, header_size), end(bytes_, counted_end_); it != end; ++it) {
    const std::uint16_t t = (*it).type;
    if (!is_comprehension_required(t) || is_known_attribute(t)) continue;
    const auto seen = out.first(written);
    if (std::find(seen.begin(), seen.end(), t) != seen.end()) continue;
    ++found;
    if (written < out.size()) out[written++] = t;
  }
  return found;
}

}  // namespace turnpike::protocol
