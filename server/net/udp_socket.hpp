// SPDX-License-Identifier: Apache-2.0
// One UDP listening socket of a shard. The shard's poller calls read() when it is readable:
// datagrams are read in batches into the shard's receive_batch and handed to the shard's
// engine (or, with DTLS on, DTLS ones to its dtls_endpoint). Sends go through the shard's send
// batch without blocking (a full socket buffer drops the datagram and counts it).
#pragma once

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
  // Takes the bound socket's descriptor. With `dtls`, datagrams whose first byte is 20-63 are
  // DTLS (RFC 7983).
  udp_socket(shard& owner, boost::asio::ip::udp::socket socket, protocol::transport_address local,
             std::shared_ptr<boost::asio::ssl::context> dtls = nullptr);
  ~udp_socket();
  udp_socket(const udp_socket&) = delete;
  udp_socket& operator=(const udp_socket&) = delete;
  int fd() const noexcept { return fd_; }
  void close() noexcept;
  // Reads what is queued (a bounded number of batches). True: more may be left.
  bool read() noexcept;
  const protocol::transport_address& local() const noexcept { return local_; }
  // False when it could not leave (counted in the shard's outbox).
  bool send_to(const protocol::transport_address& to, protocol::byte_span bytes) noexcept;
  // To an established DTLS session from `to`.
  bool send_dtls(const protocol::transport_address& to, protocol::byte_span bytes) noexcept;
  void set_dtls(std::shared_ptr<boost::asio::ssl::context> dtls) noexcept;
  const dtls_endpoint* dtls() const noexcept { return dtls_.get(); }

 private:
  shard& shard_;
  int fd_;
  protocol::transport_address local_;
  std::unique_ptr<dtls_endpoint> dtls_;
};

}  // namespace turnpike::server::net
