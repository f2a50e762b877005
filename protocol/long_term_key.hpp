// SPDX-License-Identifier: Apache-2.0
// Long-term credential keys (RFC 8489 sections 9.2.2, 14.4): OpaqueString preparation of
// realm and password (SASLprep via GNU libidn, which maps the RFC 5769 and RFC 8489
// Appendix B passwords as those documents expect), MD5 and SHA-256 keys and USERHASH.
// These allocate and run when credentials are loaded or looked up, never per packet.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/attr_auth.hpp"

namespace turnpike::protocol {

// SASLprep of `text`; nullopt when it holds prohibited characters or bad UTF-8.
std::optional<std::string> opaque_string(std::string_view text);

using md5_key = std::array<std::uint8_t, 16>;
using sha256_key = std::array<std::uint8_t, 32>;

// MD5(username ":" realm ":" password) over already prepared strings.
md5_key long_term_key_md5(std::string_view username, std::string_view realm,
                          std::string_view password) noexcept;
// SHA-256(username ":" realm ":" password) over already prepared strings.
sha256_key long_term_key_sha256(std::string_view username, std::string_view realm,
                                std::string_view password) noexcept;
// USERHASH = SHA-256(username ":" realm).
userhash_value userhash(std::string_view username, std::string_view realm) noexcept;

}  // namespace turnpike::protocol
