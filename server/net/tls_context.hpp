// SPDX-License-Identifier: Apache-2.0
// The server's TLS context (RFC 8656 section 3.1, RFC 7443): TLS 1.2 and 1.3 only (1.3 only
// with no-tlsv1_2), the configured certificate chain, key (optionally encrypted) and cipher
// list, and ALPN that accepts "stun.turn" and "stun.nat-discovery". Built at start-up; an
// error names the file and OpenSSL's reason.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "server/config/config.hpp"

namespace turnpike::server::net {

// Throws config::config_error when the certificate or key cannot be used.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::server_config& cfg);

}  // namespace turnpike::server::net
