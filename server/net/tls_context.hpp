// SPDX-License-Identifier: Apache-2.0
// The server's TLS and DTLS contexts (RFC 8656 section 3.1, RFC 7443): TLS 1.2 and 1.3 only
// (1.3 only with no-tlsv1_2), DTLS 1.2, the configured certificate chain, key (optionally
// encrypted) and cipher list, client verification against CA-file when it is set, and ALPN
// that accepts "stun.turn" and "stun.nat-discovery". Built at start-up and on SIGUSR2; an
// error names the file and OpenSSL's reason.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "server/config/config.hpp"

namespace turnpike::server::net {

// Throw config::config_error when the certificate, key or CA file cannot be used.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::server_config& cfg);
// HTTPS for the signaling service: the same certificate, ALPN http/1.1, no client certificate.
std::shared_ptr<boost::asio::ssl::context> make_https_context(const config::server_config& cfg);
// DTLS 1.2 with the same certificate, and stateless HelloVerifyRequest cookies.
std::shared_ptr<boost::asio::ssl::context> make_dtls_context(const config::server_config& cfg);

}  // namespace turnpike::server::net
