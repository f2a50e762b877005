// SPDX-License-Identifier: Apache-2.0
// Length rules of STUN text attributes (RFC 8489 section 14).
#include "protocol/attr_text.hpp"

#include "protocol/error.hpp"
#include "protocol/types.hpp"

namespace turnpike::protocol {
namespace {

// Counts code points of well-formed UTF-8; returns -1 on malformed input.
long utf8_length(std::string_view s) noexcept {
  long count = 0;
  for (std::size_t i = 0; i < s.size(); ++count) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80)
      n = 1;
    else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
      n = 2;
    else if ((c & 0xF0) == 0xE0)
      n = 3;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
      n = 4;
    else
      return -1;
    if (s.size() - i < n) return -1;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return -1;
    }
    i += n;
  }
  return count;
}

struct limits {
  std::size_t max_bytes;  // inclusive
  long max_chars;         // inclusive; -1 for no character limit
};

limits limits_for(std::uint16_t type) noexcept {
  switch (type) {
    case attr::username:
      return {512, -1};
    case attr::alternate_domain:
      return {255, -1};
    default:
      return {763, 127};  // REALM, NONCE, SOFTWARE, reason phrases
  }
}

}  // namespace

bool text_fits(std::uint16_t type, std::string_view text) noexcept {
  const limits l = limits_for(type);
  if (text.size() > l.max_bytes) return false;
  const long chars = utf8_length(text);
  return chars >= 0 && (l.max_chars < 0 || chars <= l.max_chars);
}

result<std::string_view> decode_text(std::uint16_t type, byte_span value) noexcept {
  const std::string_view text(reinterpret_cast<const char*>(value.data()), value.size());
  const limits l = limits_for(type);
  if (text.size() > l.max_bytes) return make_error_code(errc::value_too_long);
  const long chars = utf8_length(text);
  if (chars < 0) return make_error_code(errc::bad_attribute_value);
  if (l.max_chars >= 0 && chars > l.max_chars) return make_error_code(errc::value_too_long);
  return text;
}

message_builder& add_text(message_builder& b, std::uint16_t type, std::string_view text) noexcept {
  if (!text_fits(type, text)) return b.fail(make_error_code(errc::value_too_long));
  return b.add(type, text);
}

}  // namespace turnpike::protocol
