// SPDX-License-Identifier: Apache-2.0
// message_builder: header, attributes, integrity and fingerprint trailers.
#include "protocol/builder.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/error.hpp"
#include "protocol/integrity.hpp"

namespace turnpike::protocol {

message_builder::message_builder(mutable_byte_span buffer, std::uint16_t message_type,
                                 byte_span tid) noexcept
    : buf_(buffer) {
  if (buf_.size() < header_size || tid.size() != 12) {
    error_ = make_error_code(buf_.size() < header_size ? errc::buffer_too_small
                                                       : errc::bad_attribute_value);
    return;
  }
  store_u16(buf_.data(), static_cast<std::uint16_t>(message_type & 0x3FFF));
  store_u16(buf_.data() + 2, 0);
  store_u32(buf_.data() + 4, magic_cookie);
  std::copy(tid.begin(), tid.end(), buf_.begin() + 8);
  size_ = header_size;
}

void message_builder::set_length(std::size_t body) noexcept {
  store_u16(buf_.data() + 2, static_cast<std::uint16_t>(body));
}

mutable_byte_span message_builder::reserve(std::uint16_t type, std::size_t length) noexcept {
  if (error_) return {};
  const std::size_t need = attribute_header_size + pad4(length);
  if (length > 0xFFFF || need > buf_.size() - size_ || size_ + need - header_size > 0xFFFF) {
    error_ = make_error_code(errc::buffer_too_small);
    return {};
  }
  std::uint8_t* p = buf_.data() + size_;
  store_u16(p, type);
  store_u16(p + 2, static_cast<std::uint16_t>(length));
  std::memset(p + attribute_header_size + length, 0, pad4(length) - length);
  size_ += need;
  set_length(size_ - header_size);
  return {p + attribute_header_size, length};
}

message_builder& message_builder::add(std::uint16_t type, byte_span value) noexcept {
  auto out = reserve(type, value.size());
  if (!out.empty()) std::memcpy(out.data(), value.data(), value.size());
  return *this;
}

message_builder& message_builder::add(std::uint16_t type, std::string_view text) noexcept {
  return add(type, byte_span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

message_builder& message_builder::add_u32(std::uint16_t type, std::uint32_t v) noexcept {
  auto out = reserve(type, 4);
  if (!out.empty()) store_u32(out.data(), v);
  return *this;
}

message_builder& message_builder::add_message_integrity(byte_span key) noexcept {
  const std::size_t covered = size_;
  auto out = reserve(attr::message_integrity, 20);
  if (out.empty()) return *this;
  // The length field already counts the new attribute (RFC 8489 section 14.5).
  if (!hmac_sha1(key, byte_span(buf_.data(), covered), out)) {
    error_ = make_error_code(errc::crypto_failure);
  }
  return *this;
}

message_builder& message_builder::add_message_integrity_sha256(byte_span key,
                                                               std::size_t length) noexcept {
  if (length < 16 || length > 32 || length % 4 != 0) {
    if (!error_) error_ = make_error_code(errc::bad_attribute_length);
    return *this;
  }
  const std::size_t covered = size_;
  auto out = reserve(attr::message_integrity_sha256, length);
  if (out.empty()) return *this;
  if (!hmac_sha256(key, byte_span(buf_.data(), covered), out)) {
    error_ = make_error_code(errc::crypto_failure);
  }
  return *this;
}

message_builder& message_builder::add_fingerprint() noexcept {
  const std::size_t covered = size_;
  auto out = reserve(attr::fingerprint, 4);
  if (out.empty()) return *this;
  store_u32(out.data(), fingerprint_crc(byte_span(buf_.data(), covered)));
  return *this;
}

result<byte_span> message_builder::finish() const noexcept {
  if (error_) return error_;
  return byte_span(buf_.data(), size_);
}

}  // namespace turnpike::protocol
