// SPDX-License-Identifier: Apache-2.0
// Long-term keys and USERHASH (RFC 8489 sections 9.2.2, 14.4).
#include "protocol/long_term_key.hpp"

#include <openssl/evp.h>
#include <stringprep.h>

#include <cstdlib>
#include <initializer_list>

namespace turnpike::protocol {
namespace {

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md,
                                   std::initializer_list<std::string_view> parts) noexcept {
  std::array<std::uint8_t, N> out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return out;
  bool ok = EVP_DigestInit_ex(ctx, md, nullptr) == 1;
  bool first = true;
  for (std::string_view p : parts) {
    if (!first) ok = ok && EVP_DigestUpdate(ctx, ":", 1) == 1;
    ok = ok && EVP_DigestUpdate(ctx, p.data(), p.size()) == 1;
    first = false;
  }
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == N;
  EVP_MD_CTX_free(ctx);
  if (!ok) out.fill(0);
  return out;
}

}  // namespace

std::optional<std::string> opaque_string(std::string_view text) {
  const std::string in(text);
  char* out = nullptr;
  if (stringprep_profile(in.c_str(), &out, "SASLprep", STRINGPREP_NO_UNASSIGNED) != STRINGPREP_OK) {
    std::free(out);
    return std::nullopt;
  }
  std::string result(out);
  std::free(out);
  return result;
}

md5_key long_term_key_md5(std::string_view username, std::string_view realm,
                          std::string_view password) noexcept {
  return digest<16>(EVP_md5(), {username, realm, password});
}

sha256_key long_term_key_sha256(std::string_view username, std::string_view realm,
                                std::string_view password) noexcept {
  return digest<32>(EVP_sha256(), {username, realm, password});
}

userhash_value userhash(std::string_view username, std::string_view realm) noexcept {
  return digest<32>(EVP_sha256(), {username, realm});
}

}  // namespace turnpike::protocol
