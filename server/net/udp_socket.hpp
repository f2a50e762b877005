// SPDX-License-Identifier: Apache-2.0
// One UDP listening socket of a shard: receives datagrams into a reused buffer, hands each to
// the shard's engine (or, with DTLS on, DTLS ones to its dtls_endpoint), and sends responses
// without blocking (a full socket buffer drops the response and counts it).
#pragma once

#include <array>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"
#include "server/net/dtls.hpp"

namespace turnpike::server::net {

class shard;

class udp_socket {
 public:
  // With `dtls`, datagrams whose first byte is 20-63 are DTLS (RFC 7983).
  udp_socket(shard& owner, boost::asio::ip::udp::socket socket, protocol::transport_address local,
             std::shared_ptr<boost::asio::ssl::context> dtls = nullptr);
  ~udp_socket();
  void start();
  void close() noexcept;
  const protocol::transport_address& local() const noexcept { return local_; }
  bool send_to(const protocol::transport_address& to, protocol::byte_span bytes) noexcept;
  // To an established DTLS session from `to`.
  bool send_dtls(const protocol::transport_address& to, protocol::byte_span bytes) noexcept;
  void set_dtls(std::shared_ptr<boost::asio::ssl::context> dtls) noexcept;
  const dtls_endpoint* dtls() const noexcept { return dtls_.get(); }

 private:
  void receive();

  shard& shard_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint from_;
  protocol::transport_address local_;
  std::unique_ptr<std::array<std::uint8_t, 65536>> buffer_;
  std::unique_ptr<dtls_endpoint> dtls_;
};

}  // namespace turnpike::server::net
