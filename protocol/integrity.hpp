// SPDX-License-Identifier: Apache-2.0
// MESSAGE-INTEGRITY (HMAC-SHA1), MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (CRC-32 xor
// 0x5354554e): computing and checking them (RFC 8489 sections 14.5, 14.6, 14.7). HMACs use
// OpenSSL's EVP_MAC with one reusable context per thread, so nothing is allocated per packet.
#pragma once

#include <cstdint>

#include "protocol/bytes.hpp"
#include "protocol/message.hpp"

namespace turnpike::protocol {

// HMAC of `data` under `key`, written to `out` (truncated to out.size(), which must be at most
// the digest size: 20 for SHA-1, 32 for SHA-256). Returns false only if OpenSSL fails.
bool hmac_sha1(byte_span key, byte_span data, mutable_byte_span out) noexcept;
bool hmac_sha256(byte_span key, byte_span data, mutable_byte_span out) noexcept;

// CRC-32 of `data` XOR 0x5354554e: the FINGERPRINT value for a message whose bytes, with the
// length field already counting the FINGERPRINT attribute, are `data`.
std::uint32_t fingerprint_crc(byte_span data) noexcept;

// True when the message has a FINGERPRINT and it matches.
bool check_fingerprint(const message_view& msg) noexcept;
// True when the message has MESSAGE-INTEGRITY and it matches under `key`.
bool check_message_integrity(const message_view& msg, byte_span key) noexcept;
// True when the message has MESSAGE-INTEGRITY-SHA256 (possibly truncated) matching `key`.
bool check_message_integrity_sha256(const message_view& msg, byte_span key) noexcept;

}  // namespace turnpike::protocol
