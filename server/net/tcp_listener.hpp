// SPDX-License-Identifier: Apache-2.0
// A stream listener of a shard. With a TLS context, every accepted connection is told apart
// by its first byte, as coturn does: 0x16 (a TLS handshake record) starts TLS, anything else
// is plain STUN/TURN over TCP. A client that sends nothing within the handshake limit is
// closed.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "protocol/types.hpp"

namespace turnpike::server::net {

class shard;

class tcp_listener {
 public:
  tcp_listener(shard& owner, boost::asio::ip::tcp::acceptor acceptor,
               protocol::transport_address local, std::shared_ptr<boost::asio::ssl::context> tls);
  void start();
  void close() noexcept;
  // Certificate reload: new connections use `tls`; established ones keep their own.
  void set_tls(std::shared_ptr<boost::asio::ssl::context> tls) noexcept {
    if (tls_) tls_ = std::move(tls);
  }

 private:
  void accept();
  void classify(const std::shared_ptr<boost::asio::ip::tcp::socket>& socket,
                protocol::transport_address remote);

  shard& shard_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  protocol::transport_address local_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
};

}  // namespace turnpike::server::net
