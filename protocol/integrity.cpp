// SPDX-License-Identifier: Apache-2.0
// HMAC and CRC-32 for STUN integrity attributes (RFC 8489 sections 14.5-14.7).
#include "protocol/integrity.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <initializer_list>

namespace turnpike::protocol {
namespace {

// One HMAC context per thread and digest, created on first use and reused for every message.
class hmac_context {
 public:
  explicit hmac_context(const char* digest) noexcept {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return;
    ctx_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context holds its own reference
    if (ctx_ == nullptr) return;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(ctx_, params) != 1) {
      EVP_MAC_CTX_free(ctx_);
      ctx_ = nullptr;
    }
  }
  ~hmac_context() { EVP_MAC_CTX_free(ctx_); }
  hmac_context(const hmac_context&) = delete;
  hmac_context& operator=(const hmac_context&) = delete;

  // HMAC over the concatenation of `parts`, truncated into `out`.
  bool compute(byte_span key, std::initializer_list<byte_span> parts,
               mutable_byte_span out) noexcept {
    if (ctx_ == nullptr) return false;
    // An empty key is legal in HMAC but OpenSSL wants a non-null pointer.
    static const std::uint8_t empty = 0;
    if (EVP_MAC_init(ctx_, key.empty() ? &empty : key.data(), key.size(), nullptr) != 1) {
      return false;
    }
    for (const byte_span& p : parts) {
      if (!p.empty() && EVP_MAC_update(ctx_, p.data(), p.size()) != 1) return false;
    }
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> full{};
    std::size_t len = 0;
    if (EVP_MAC_final(ctx_, full.data(), &len, full.size()) != 1) return false;
    if (out.size() > len) return false;
    std::copy_n(full.begin(), out.size(), out.begin());
    return true;
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
};

hmac_context& sha1_context() noexcept {
  thread_local hmac_context ctx("SHA1");
  return ctx;
}
hmac_context& sha256_context() noexcept {
  thread_local hmac_context ctx("SHA256");
  return ctx;
}

// The header as it was when the trailer at `offset` of `value_len` bytes was appended: the
// length field counts the message up to and including that attribute.
std::array<std::uint8_t, header_size> header_for(const message_view& msg, std::size_t offset,
                                                 std::size_t value_len) noexcept {
  std::array<std::uint8_t, header_size> h{};
  std::copy_n(msg.bytes().begin(), header_size, h.begin());
  store_u16(h.data() + 2,
            static_cast<std::uint16_t>(offset + attribute_header_size + value_len - header_size));
  return h;
}

bool check_hmac(hmac_context& ctx, const message_view& msg, const attribute& a,
                byte_span key) noexcept {
  const auto h = header_for(msg, a.offset, a.value.size());
  std::array<std::uint8_t, 32> mac{};
  const mutable_byte_span out(mac.data(), a.value.size());
  if (!ctx.compute(key, {byte_span(h), msg.bytes().subspan(header_size, a.offset - header_size)},
                   out)) {
    return false;
  }
  return CRYPTO_memcmp(mac.data(), a.value.data(), a.value.size()) == 0;
}

}  // namespace

bool hmac_sha1(byte_span key, byte_span data, mutable_byte_span out) noexcept {
  return sha1_context().compute(key, {data}, out);
}

bool hmac_sha256(byte_span key, byte_span data, mutable_byte_span out) noexcept {
  return sha256_context().compute(key, {data}, out);
}

std::uint32_t fingerprint_crc(byte_span data) noexcept {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, data.data(), static_cast<uInt>(data.size()));
  return static_cast<std::uint32_t>(crc) ^ fingerprint_xor;
}

bool check_fingerprint(const message_view& msg) noexcept {
  const auto fp = msg.fingerprint();
  if (!fp) return false;
  const auto h = header_for(msg, fp->offset, 4);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, h.data(), static_cast<uInt>(h.size()));
  crc = crc32(crc, msg.bytes().data() + header_size, static_cast<uInt>(fp->offset - header_size));
  return (static_cast<std::uint32_t>(crc) ^ fingerprint_xor) == load_u32(fp->value.data());
}

bool check_message_integrity(const message_view& msg, byte_span key) noexcept {
  const auto mi = msg.message_integrity();
  return mi && check_hmac(sha1_context(), msg, *mi, key);
}

bool check_message_integrity_sha256(const message_view& msg, byte_span key) noexcept {
  const auto mi = msg.message_integrity_sha256();
  return mi && check_hmac(sha256_context(), msg, *mi, key);
}

}  // namespace turnpike::protocol
