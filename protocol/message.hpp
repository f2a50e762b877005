// SPDX-License-Identifier: Apache-2.0
// A read-only view of one STUN message over a caller's bytes: header fields, attribute
// iteration and look-up under the rules of RFC 8489 sections 6.3 and 14.5-14.7.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>

#include "protocol/bytes.hpp"
#include "protocol/result.hpp"
#include "protocol/types.hpp"

namespace turnpike::protocol {

struct attribute {
  std::uint16_t type = 0;
  byte_span value;           // without padding
  std::uint16_t offset = 0;  // offset of the attribute header from the start of the message
};

// Forward iteration over every attribute of an already validated message.
class attribute_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = attribute;
  using difference_type = std::ptrdiff_t;
  using pointer = const attribute*;
  using reference = attribute;

  attribute_iterator() = default;
  attribute_iterator(byte_span msg, std::size_t offset) noexcept : msg_(msg), offset_(offset) {}
  attribute operator*() const noexcept;
  attribute_iterator& operator++() noexcept;
  attribute_iterator operator++(int) noexcept {
    auto tmp = *this;
    ++*this;
    return tmp;
  }
  friend bool operator==(const attribute_iterator& a, const attribute_iterator& b) noexcept {
    return a.offset_ == b.offset_;
  }

 private:
  byte_span msg_;
  std::size_t offset_ = 0;
};

struct attribute_range {
  attribute_iterator first, last;
  attribute_iterator begin() const noexcept { return first; }
  attribute_iterator end() const noexcept { return last; }
};

// The view borrows the bytes given to parse(): it is valid only while they are.
class message_view {
 public:
  // Validates a whole STUN message held in one datagram or one stream frame (RFC 8489
  // section 6.3): leading zero bits, length multiple of four and equal to the bytes given,
  // magic cookie, attributes inside the message, FINGERPRINT last. Never throws.
  static result<message_view> parse(byte_span bytes) noexcept;

  // Cheap demultiplexing test (RFC 7983): first two bits zero and the magic cookie present.
  static bool looks_like_stun(byte_span bytes) noexcept;

  std::uint16_t message_type() const noexcept { return load_u16(bytes_.data()); }
  std::uint16_t method_code() const noexcept { return method_of(message_type()); }
  msg_class cls() const noexcept { return class_of(message_type()); }
  bool is(method m, msg_class c) const noexcept {
    return message_type() == make_message_type(m, c);
  }
  transaction_id tid() const noexcept;
  byte_span tid_bytes() const noexcept { return bytes_.subspan(8, 12); }
  byte_span bytes() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }

  // Every attribute, in order, including those that integrity rules make us ignore.
  attribute_range attributes() const noexcept;
  // The attributes that count: those before MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT, for
  // attributes that may repeat (XOR-PEER-ADDRESS in CreatePermission).
  attribute_range counted_attributes() const noexcept {
    return {attribute_iterator(bytes_, header_size), attribute_iterator(bytes_, counted_end_)};
  }

  // The first attribute of `type` that counts: attributes after MESSAGE-INTEGRITY(-SHA256)
  // are ignored (RFC 8489 sections 14.5, 14.6), duplicates after the first are ignored.
  std::optional<attribute> find(std::uint16_t type) const noexcept;

  std::optional<attribute> message_integrity() const noexcept { return at(mi_offset_); }
  std::optional<attribute> message_integrity_sha256() const noexcept { return at(mi256_offset_); }
  std::optional<attribute> fingerprint() const noexcept { return at(fp_offset_); }

  // Writes up to out.size() distinct comprehension-required types this codec does not know
  // (RFC 8489 section 6.3.1, error 420) and returns how many were found in all.
  std::size_t unknown_comprehension_required(std::span<std::uint16_t> out) const noexcept;

 private:
  std::optional<attribute> at(std::uint16_t offset) const noexcept;

  byte_span bytes_;
  std::uint16_t counted_end_ = 0;  // attributes at or past this offset are ignored by find()
  std::uint16_t mi_offset_ = 0;    // 0 means absent: attributes start at offset 20
  std::uint16_t mi256_offset_ = 0;
  std::uint16_t fp_offset_ = 0;
};

}  // namespace turnpike::protocol
