// SPDX-License-Identifier: Apache-2.0
// One UDP listening socket of a shard: receives datagrams into a reused buffer, hands each to
// the shard's engine, and sends responses without blocking (a full socket buffer drops the
// response and counts it).
#pragma once

#include <array>
#include <boost/asio/ip/udp.hpp>
#include <memory>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"

namespace turnpike::server::net {

class shard;

class udp_socket {
 public:
  udp_socket(shard& owner, boost::asio::ip::udp::socket socket, protocol::transport_address local);
  void start();
  void close() noexcept;
  const protocol::transport_address& local() const noexcept { return local_; }
  bool send_to(const protocol::transport_address& to, protocol::byte_span bytes) noexcept;

 private:
  void receive();

  shard& shard_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint from_;
  protocol::transport_address local_;
  std::unique_ptr<std::array<std::uint8_t, 65536>> buffer_;
};

}  // namespace turnpike::server::net
