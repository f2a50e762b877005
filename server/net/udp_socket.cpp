// SPDX-License-Identifier: Apache-2.0
// UDP listener: batched receive and non-blocking send (a failure is counted by the outbox).
#include "server/net/udp_socket.hpp"

#include <unistd.h>

#include "server/net/datagram_io.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

udp_socket::udp_socket(shard& owner, boost::asio::ip::udp::socket socket,
                       protocol::transport_address local,
                       std::shared_ptr<boost::asio::ssl::context> dtls)
    : shard_(owner), fd_(socket.release()), local_(local) {
  tune_udp_socket(fd_, shared_socket_buffer_bytes, shared_socket_buffer_bytes);
  if (dtls) dtls_ = std::make_unique<dtls_endpoint>(owner, *this, std::move(dtls));
}

udp_socket::~udp_socket() {
  if (fd_ >= 0) ::close(fd_);
}

void udp_socket::close() noexcept {
  if (dtls_) dtls_->close_all();
  if (fd_ < 0) return;
  ::close(fd_);  // leaves the shard's poller with it
  fd_ = -1;
}

bool udp_socket::read() noexcept {
  return read_socket(shard_.receive_buffers(), fd_,
                     [this](const protocol::transport_address& from, protocol::byte_span bytes) {
                       if (!dtls_ || !dtls_->on_datagram(from, bytes)) {
                         shard_.on_client_packet({engine::transport::udp, local_, from}, bytes);
                       }
                     });
}

bool udp_socket::send_to(const protocol::transport_address& to,
                         protocol::byte_span bytes) noexcept {
  if (fd_ < 0) {
    shard_.out().count_failure();
    return false;
  }
  return shard_.out().send(fd_, to, bytes);
}

bool udp_socket::send_dtls(const protocol::transport_address& to,
                           protocol::byte_span bytes) noexcept {
  return dtls_ && dtls_->send(to, bytes);
}

void udp_socket::set_dtls(std::shared_ptr<boost::asio::ssl::context> dtls) noexcept {
  if (dtls_ && dtls) dtls_->set_context(std::move(dtls));
}

}  // namespace turnpike::server::net
