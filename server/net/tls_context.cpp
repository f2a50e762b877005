// SPDX-License-Identifier: Apache-2.0
// TLS context set-up with OpenSSL through Boost.Asio.
#include "server/net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <string_view>

#include "server/net/dtls.hpp"

namespace turnpike::server::net {
namespace {

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// ALPN (RFC 7301): the server's list in wire format (length-prefixed names), passed as the
// callback's argument. A client offering none of them still gets through (ALPN is optional);
// it just gets no ALPN answer.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* ours = static_cast<const std::string_view*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(ours->data()),
                            static_cast<unsigned int>(ours->size()), in,
                            inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}
// RFC 7443: TURN and STUN.
constexpr std::string_view turn_alpn = "\x09stun.turn\x12stun.nat-discovery";
// The signaling service's HTTPS.
constexpr std::string_view http_alpn = "\x08http/1.1";

enum class purpose { turn, https };

// Certificate chain, key, cipher list, client verification and ALPN: the same for TLS and DTLS;
// HTTPS takes the certificate and ciphers but asks browsers for no client certificate.
void load_identity(boost::asio::ssl::context& ctx, const config::server_config& cfg,
                   purpose use = purpose::turn) {
  namespace ssl = boost::asio::ssl;
  SSL_CTX* native = ctx.native_handle();
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                  ssl::context::single_dh_use);
  // Idle sessions give their read and write buffers back (tens of kB each).
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (!cfg.pkey_password.empty()) {
    std::string pw = cfg.pkey_password;
    ctx.set_password_callback([pw](std::size_t, ssl::context::password_purpose) { return pw; });
  }
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cfg.cert_file, ec);
  if (ec) throw config::config_error("cert: " + cfg.cert_file + ": " + ec.message());
  ctx.use_private_key_file(cfg.pkey_file, ssl::context::pem, ec);
  if (ec) throw config::config_error("pkey: " + cfg.pkey_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    throw config::config_error("pkey: " + cfg.pkey_file + " does not match " + cfg.cert_file);
  }
  if (!cfg.cipher_list.empty() && SSL_CTX_set_cipher_list(native, cfg.cipher_list.c_str()) != 1) {
    throw config::config_error("cipher-list: " + openssl_reason());
  }
  if (use == purpose::https) {
    SSL_CTX_set_alpn_select_cb(native, select_alpn, const_cast<std::string_view*>(&http_alpn));
    return;
  }
  if (!cfg.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, cfg.ca_file.c_str(), nullptr) != 1) {
      throw config::config_error("CA-file: " + cfg.ca_file + ": " + openssl_reason());
    }
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  SSL_CTX_set_alpn_select_cb(native, select_alpn, const_cast<std::string_view*>(&turn_alpn));
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::server_config& cfg) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(),
                                cfg.no_tlsv1_2 ? TLS1_3_VERSION : TLS1_2_VERSION);
  load_identity(*ctx, cfg);
  return ctx;
}

std::shared_ptr<boost::asio::ssl::context> make_https_context(const config::server_config& cfg) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(),
                                cfg.no_tlsv1_2 ? TLS1_3_VERSION : TLS1_2_VERSION);
  load_identity(*ctx, cfg, purpose::https);
  return ctx;
}

std::shared_ptr<boost::asio::ssl::context> make_dtls_context(const config::server_config& cfg) {
  SSL_CTX* native = SSL_CTX_new(DTLS_server_method());
  if (native == nullptr) throw config::config_error("DTLS: " + openssl_reason());
  auto ctx = std::make_shared<boost::asio::ssl::context>(native);  // takes ownership
  SSL_CTX_set_min_proto_version(native, DTLS1_2_VERSION);
  load_identity(*ctx, cfg);
  install_dtls_cookies(native);
  return ctx;
}

}  // namespace turnpike::server::net
