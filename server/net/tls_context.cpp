// SPDX-License-Identifier: Apache-2.0
// TLS context set-up with OpenSSL through Boost.Asio.
#include "server/net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

namespace turnpike::server::net {
namespace {

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// RFC 7443: the ALPN identifiers for TURN and STUN. A client offering neither still gets
// through (ALPN is optional); one offering only other protocols gets no ALPN answer.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char ours[] = "\x09stun.turn\x12stun.nat-discovery";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, ours, sizeof ours - 1, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::server_config& cfg) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, cfg.no_tlsv1_2 ? TLS1_3_VERSION : TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  if (!cfg.pkey_password.empty()) {
    const std::string pw = cfg.pkey_password;
    ctx->set_password_callback([pw](std::size_t, ssl::context::password_purpose) { return pw; });
  }
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cfg.cert_file, ec);
  if (ec) throw config::config_error("cert: " + cfg.cert_file + ": " + ec.message());
  ctx->use_private_key_file(cfg.pkey_file, ssl::context::pem, ec);
  if (ec) throw config::config_error("pkey: " + cfg.pkey_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    throw config::config_error("pkey: " + cfg.pkey_file + " does not match " + cfg.cert_file);
  }
  if (!cfg.cipher_list.empty() && SSL_CTX_set_cipher_list(native, cfg.cipher_list.c_str()) != 1) {
    throw config::config_error("cipher-list: " + openssl_reason());
  }
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  return ctx;
}

}  // namespace turnpike::server::net
