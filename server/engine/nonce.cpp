// SPDX-License-Identifier: Apache-2.0
// Stateless nonce construction and checking.
#include "server/engine/nonce.hpp"

#include <openssl/crypto.h>

#include <cstdio>
#include <cstring>

#include "protocol/attr_auth.hpp"
#include "protocol/bytes.hpp"
#include "protocol/integrity.hpp"

namespace turnpike::server::engine {

namespace p = turnpike::protocol;

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

bool parse_hex32(std::string_view s, std::uint32_t& out) noexcept {
  out = 0;
  for (char c : s) {
    const char* d = std::strchr(hex_digits, c);
    if (c == '\0' || d == nullptr) return false;
    out = (out << 4) | static_cast<std::uint32_t>(d - hex_digits);
  }
  return true;
}

}  // namespace

void nonce_codec::mac(std::uint32_t issued, const p::transport_address& client,
                      char out[16]) const noexcept {
  std::uint8_t input[4 + 4 + 1 + 16];
  p::store_u32(input, features_);
  p::store_u32(input + 4, issued);
  input[8] = static_cast<std::uint8_t>(client.family);
  std::memcpy(input + 9, client.ip.data(), 16);
  std::array<std::uint8_t, 8> digest{};
  p::hmac_sha1(secret_, input, digest);
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = hex_digits[digest[i] >> 4];
    out[2 * i + 1] = hex_digits[digest[i] & 15];
  }
}

std::array<char, nonce_codec::size> nonce_codec::make(
    std::int64_t unix_now, const p::transport_address& client) const noexcept {
  std::array<char, size> n{};
  p::write_nonce_cookie(features_,
                        std::span<char, p::nonce_cookie_size>(n.data(), p::nonce_cookie_size));
  const auto issued = static_cast<std::uint32_t>(unix_now);
  for (int i = 0; i < 8; ++i) n[13 + i] = hex_digits[(issued >> (28 - 4 * i)) & 15];
  mac(issued, client, n.data() + 21);
  return n;
}

nonce_codec::verdict nonce_codec::check(std::string_view nonce, std::int64_t unix_now,
                                        const p::transport_address& client) const noexcept {
  if (nonce.size() != size) return verdict::invalid;
  const auto features = p::parse_nonce_cookie(nonce);
  if (!features || *features != features_) return verdict::invalid;
  std::uint32_t issued = 0;
  if (!parse_hex32(nonce.substr(13, 8), issued)) return verdict::invalid;
  char expected[16];
  mac(issued, client, expected);
  if (CRYPTO_memcmp(expected, nonce.data() + 21, 16) != 0) return verdict::invalid;
  const auto age = static_cast<std::int64_t>(static_cast<std::uint32_t>(unix_now) - issued);
  if (lifetime_.count() != 0 && (age < 0 || age > lifetime_.count())) return verdict::stale;
  return verdict::valid;
}

}  // namespace turnpike::server::engine
