// SPDX-License-Identifier: Apache-2.0
// RFC 6062 connection registry and relay listener.
#include "server/net/tcp_relay.hpp"

#include "server/net/asio_address.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

tcp_relay_listener::tcp_relay_listener(shard& owner, engine::relay_id id,
                                       boost::asio::ip::tcp::acceptor acceptor)
    : shard_(owner), id_(id), acceptor_(std::move(acceptor)) {}

void tcp_relay_listener::start() {
  accept();
}

void tcp_relay_listener::close() noexcept {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void tcp_relay_listener::accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     boost::asio::ip::tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (!ec) self->shard_.on_peer_tcp_connection(self->id_, std::move(socket));
    self->accept();
  });
}

}  // namespace turnpike::server::net
