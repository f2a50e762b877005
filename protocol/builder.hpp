// SPDX-License-Identifier: Apache-2.0
// Writes a STUN message into a caller's buffer without allocating (RFC 8489 sections 5, 14).
// Errors are sticky: once the buffer is too small every later call is a no-op and finish()
// reports buffer_too_small, so call sites can add attributes without checking each one.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>

#include "protocol/bytes.hpp"
#include "protocol/result.hpp"
#include "protocol/types.hpp"

namespace turnpike::protocol {

class message_builder {
 public:
  message_builder(mutable_byte_span buffer, std::uint16_t message_type, byte_span tid) noexcept;
  message_builder(mutable_byte_span buffer, method m, msg_class c, byte_span tid) noexcept
      : message_builder(buffer, make_message_type(m, c), tid) {}
  // For a method code taken off the wire (possibly one this codec has no name for).
  message_builder(mutable_byte_span buffer, std::uint16_t method_code, msg_class c,
                  byte_span tid) noexcept
      : message_builder(buffer, make_message_type(method_code, c), tid) {}

  // Appends an attribute with its value copied in and zero padding.
  message_builder& add(std::uint16_t type, byte_span value) noexcept;
  message_builder& add(std::uint16_t type, std::string_view text) noexcept;
  message_builder& add_u32(std::uint16_t type, std::uint32_t v) noexcept;
  // Reserves an attribute of `length` bytes and returns where to write its value (empty on
  // error). Padding is zeroed.
  mutable_byte_span reserve(std::uint16_t type, std::size_t length) noexcept;

  // RFC 8489 section 14.5: HMAC-SHA1 over the message so far, with the length field covering
  // the MESSAGE-INTEGRITY attribute itself.
  message_builder& add_message_integrity(byte_span key) noexcept;
  // RFC 8489 section 14.6: HMAC-SHA256, truncated to `length` (16-32, multiple of 4).
  message_builder& add_message_integrity_sha256(byte_span key, std::size_t length = 32) noexcept;
  // RFC 8489 section 14.7: CRC-32 of the message so far XOR 0x5354554e. Must be last.
  message_builder& add_fingerprint() noexcept;

  // Marks the builder failed (first error wins), e.g. when a caller's value is invalid.
  message_builder& fail(std::error_code ec) noexcept {
    if (!error_) error_ = ec;
    return *this;
  }
  std::error_code error() const noexcept { return error_; }
  std::size_t size() const noexcept { return size_; }
  byte_span tid() const noexcept { return {buf_.data() + 8, 12}; }
  // The finished message, or the first error met.
  result<byte_span> finish() const noexcept;

 private:
  void set_length(std::size_t body) noexcept;

  mutable_byte_span buf_;
  std::size_t size_ = 0;
  std::error_code error_;
};

}  // namespace turnpike::protocol
