// SPDX-License-Identifier: Apache-2.0
// Relay socket receive loop and sends.
#include "server/net/relay_socket.hpp"

#include "server/net/asio_address.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

relay_socket::relay_socket(shard& owner, engine::relay_id id, boost::asio::ip::udp::socket socket)
    : shard_(owner),
      id_(id),
      socket_(std::move(socket)),
      buffer_(std::make_unique<std::array<std::uint8_t, 65536>>()) {
  socket_.non_blocking(true);
}

void relay_socket::start() {
  receive();
}

void relay_socket::close() noexcept {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void relay_socket::receive() {
  socket_.async_receive_from(
      boost::asio::buffer(*buffer_), from_,
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec == boost::asio::error::operation_aborted || !self->socket_.is_open()) return;
        if (!ec) {
          self->shard_.on_peer_packet(self->id_, from_endpoint(self->from_),
                                      protocol::byte_span(self->buffer_->data(), n));
        }
        self->receive();
      });
}

void relay_socket::send_to(const protocol::transport_address& peer,
                           protocol::byte_span bytes) noexcept {
  boost::system::error_code ec;
  socket_.send_to(boost::asio::buffer(bytes.data(), bytes.size()),
                  to_endpoint<boost::asio::ip::udp>(peer), 0, ec);
  if (ec) shard_.count_send_failure();
}

}  // namespace turnpike::server::net
