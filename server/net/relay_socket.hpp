// SPDX-License-Identifier: Apache-2.0
// One relay socket (the relayed transport address of an allocation, RFC 8656 section 2.2):
// receives peer datagrams into a reused buffer and hands them to the shard's engine; sends
// client data to peers without blocking.
#pragma once

#include <array>
#include <boost/asio/ip/udp.hpp>
#include <memory>

#include "protocol/bytes.hpp"
#include "server/engine/relay_io.hpp"

namespace turnpike::server::net {

class shard;

class relay_socket : public std::enable_shared_from_this<relay_socket> {
 public:
  relay_socket(shard& owner, engine::relay_id id, boost::asio::ip::udp::socket socket);
  void start();
  void close() noexcept;
  void send_to(const protocol::transport_address& peer, protocol::byte_span bytes) noexcept;

 private:
  void receive();

  shard& shard_;
  engine::relay_id id_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint from_;
  std::unique_ptr<std::array<std::uint8_t, 65536>> buffer_;
};

}  // namespace turnpike::server::net
