// SPDX-License-Identifier: Apache-2.0
// TCP listener and connections of a shard. A connection reads into its own buffer, frames the
// stream with protocol::next_frame, hands each frame to the engine, and queues responses in a
// bounded buffer (a client that does not read its responses is disconnected).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "server/engine/types.hpp"

namespace turnpike::server::net {

class shard;

class tcp_connection : public std::enable_shared_from_this<tcp_connection> {
 public:
  static constexpr std::size_t max_pending_output = 256 * 1024;

  tcp_connection(shard& owner, boost::asio::ip::tcp::socket socket, engine::five_tuple tuple);
  void start();
  void close() noexcept;
  void send(protocol::byte_span bytes);

 private:
  void read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void write();

  shard& shard_;
  boost::asio::ip::tcp::socket socket_;
  engine::five_tuple tuple_;
  std::vector<std::uint8_t> in_;
  std::size_t in_len_ = 0;
  std::vector<std::uint8_t> pending_;
  std::vector<std::uint8_t> writing_;
  bool write_in_flight_ = false;
  bool closed_ = false;
};

class tcp_listener {
 public:
  tcp_listener(shard& owner, boost::asio::ip::tcp::acceptor acceptor,
               protocol::transport_address local);
  void start();
  void close() noexcept;

 private:
  void accept();

  shard& shard_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  protocol::transport_address local_;
};

}  // namespace turnpike::server::net
