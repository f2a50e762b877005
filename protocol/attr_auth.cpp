// SPDX-License-Identifier: Apache-2.0
// PASSWORD-ALGORITHM(S), USERHASH and the nonce cookie (RFC 8489 sections 9.2, 14.4, 14.11,
// 14.12).
#include "protocol/attr_auth.hpp"

#include <algorithm>

#include "protocol/error.hpp"
#include "protocol/types.hpp"

namespace turnpike::protocol {
namespace {

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_digit(char c) noexcept {
  const auto pos = base64_alphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

result<password_algorithm_value> decode_password_algorithm(byte_span value) noexcept {
  if (value.size() < 4) return make_error_code(errc::bad_attribute_length);
  const std::size_t plen = load_u16(value.data() + 2);
  if (pad4(plen) != value.size() - 4 && plen != value.size() - 4) {
    return make_error_code(errc::bad_attribute_length);
  }
  return password_algorithm_value{load_u16(value.data()), value.subspan(4, plen)};
}

message_builder& add_password_algorithm(message_builder& b, password_algorithm alg) noexcept {
  // MD5 and SHA-256 take no parameters.
  return b.add_u32(attr::password_algorithm, std::uint32_t{static_cast<std::uint16_t>(alg)} << 16);
}

bool password_algorithms_view::contains(std::uint16_t algorithm) const noexcept {
  bool found = false;
  for_each([&](const password_algorithm_value& v) { found = found || v.algorithm == algorithm; });
  return found;
}

result<password_algorithms_view> decode_password_algorithms(byte_span value) noexcept {
  std::size_t off = 0;
  while (off < value.size()) {
    if (value.size() - off < 4) return make_error_code(errc::bad_attribute_length);
    const std::size_t plen = load_u16(value.data() + off + 2);
    if (pad4(plen) > value.size() - off - 4) return make_error_code(errc::bad_attribute_length);
    off += 4 + pad4(plen);
  }
  if (value.empty()) return make_error_code(errc::bad_attribute_length);
  return password_algorithms_view(value);
}

message_builder& add_password_algorithms(message_builder& b,
                                         std::span<const password_algorithm> algs) noexcept {
  auto out = b.reserve(attr::password_algorithms, 4 * algs.size());
  for (std::size_t i = 0; i < algs.size() && !out.empty(); ++i) {
    store_u16(out.data() + 4 * i, static_cast<std::uint16_t>(algs[i]));
    store_u16(out.data() + 4 * i + 2, 0);
  }
  return b;
}

result<userhash_value> decode_userhash(byte_span value) noexcept {
  if (value.size() != 32) return make_error_code(errc::bad_attribute_length);
  userhash_value h;
  std::copy_n(value.begin(), 32, h.begin());
  return h;
}

std::optional<std::uint32_t> parse_nonce_cookie(std::string_view nonce) noexcept {
  if (nonce.size() < nonce_cookie_size || !nonce.starts_with(nonce_cookie)) return std::nullopt;
  std::uint32_t bits = 0;
  for (std::size_t i = nonce_cookie.size(); i < nonce_cookie_size; ++i) {
    const int d = base64_digit(nonce[i]);
    if (d < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(d);
  }
  return bits;
}

void write_nonce_cookie(std::uint32_t features, std::span<char, nonce_cookie_size> out) noexcept {
  std::copy(nonce_cookie.begin(), nonce_cookie.end(), out.begin());
  for (std::size_t i = 0; i < 4; ++i) {
    out[nonce_cookie.size() + i] = base64_alphabet[(features >> (18 - 6 * i)) & 0x3F];
  }
}

}  // namespace turnpike::protocol
