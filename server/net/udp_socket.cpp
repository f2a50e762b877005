// SPDX-License-Identifier: Apache-2.0
// UDP receive loop and non-blocking send.
#include "server/net/udp_socket.hpp"

#include "server/net/asio_address.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

udp_socket::udp_socket(shard& owner, boost::asio::ip::udp::socket socket,
                       protocol::transport_address local,
                       std::shared_ptr<boost::asio::ssl::context> dtls)
    : shard_(owner),
      socket_(std::move(socket)),
      local_(local),
      buffer_(std::make_unique<std::array<std::uint8_t, 65536>>()) {
  socket_.non_blocking(true);
  if (dtls) dtls_ = std::make_unique<dtls_endpoint>(owner, *this, std::move(dtls));
}

udp_socket::~udp_socket() = default;

void udp_socket::start() {
  receive();
}

void udp_socket::close() noexcept {
  if (dtls_) dtls_->close_all();
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void udp_socket::receive() {
  socket_.async_receive_from(
      boost::asio::buffer(*buffer_), from_,
      [this](const boost::system::error_code& ec, std::size_t n) {
        if (ec == boost::asio::error::operation_aborted || !socket_.is_open()) return;
        if (!ec) {
          const engine::five_tuple path{engine::transport::udp, local_, from_endpoint(from_)};
          const protocol::byte_span bytes(buffer_->data(), n);
          if (!dtls_ || !dtls_->on_datagram(path.remote, bytes)) {
            shard_.on_client_packet(path, bytes);
          }
        }
        // Other errors (an ICMP port unreachable reported on this socket) are per-datagram.
        receive();
      });
}

bool udp_socket::send_to(const protocol::transport_address& to,
                         protocol::byte_span bytes) noexcept {
  boost::system::error_code ec;
  socket_.send_to(boost::asio::buffer(bytes.data(), bytes.size()),
                  to_endpoint<boost::asio::ip::udp>(to), 0, ec);
  return !ec;
}

bool udp_socket::send_dtls(const protocol::transport_address& to,
                           protocol::byte_span bytes) noexcept {
  return dtls_ && dtls_->send(to, bytes);
}

void udp_socket::set_dtls(std::shared_ptr<boost::asio::ssl::context> dtls) noexcept {
  if (dtls_ && dtls) dtls_->set_context(std::move(dtls));
}

}  // namespace turnpike::server::net
