// SPDX-License-Identifier: Apache-2.0
// Relay socket receive loop and sends.
#include "server/net/relay_socket.hpp"

#include <cstring>

#include "server/net/asio_address.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

receive_batch::receive_batch() : data(static_cast<std::size_t>(slots) * slot_size) {}

void receive_batch::reset() noexcept {
  for (int i = 0; i < slots; ++i) {
    iov[i] = {data.data() + static_cast<std::size_t>(i) * slot_size, slot_size};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
  }
}

relay_socket::relay_socket(shard& owner, engine::relay_id id, boost::asio::ip::udp::socket socket)
    : shard_(owner), id_(id), socket_(std::move(socket)) {
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
  socket_.async_wait(
      boost::asio::ip::udp::socket::wait_read,
      [self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec == boost::asio::error::operation_aborted || !self->socket_.is_open()) {
          return;
        }
        self->drain();
        if (self->socket_.is_open()) self->receive();
      });
}

void relay_socket::drain() noexcept {
  receive_batch& b = shard_.relay_batch();
  // A few batches at most, then back to the event loop so one busy peer cannot starve the
  // other sockets of the shard.
  for (int round = 0; round < 4 && socket_.is_open(); ++round) {
    b.reset();
    const int n = ::recvmmsg(socket_.native_handle(), b.msgs.data(), receive_batch::slots,
                             MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    for (int i = 0; i < n && socket_.is_open(); ++i) {
      if ((b.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) continue;  // larger than a slot
      boost::asio::ip::udp::endpoint from;
      std::memcpy(from.data(), &b.from[i], b.msgs[i].msg_hdr.msg_namelen);
      from.resize(b.msgs[i].msg_hdr.msg_namelen);
      shard_.on_peer_packet(id_, from_endpoint(from),
                            protocol::byte_span(b.data.data() + static_cast<std::size_t>(i) *
                                                                    receive_batch::slot_size,
                                                b.msgs[i].msg_len));
    }
    if (n < receive_batch::slots) return;
  }
}

void relay_socket::send_to(const protocol::transport_address& peer,
                           protocol::byte_span bytes) noexcept {
  boost::system::error_code ec;
  socket_.send_to(boost::asio::buffer(bytes.data(), bytes.size()),
                  to_endpoint<boost::asio::ip::udp>(peer), 0, ec);
  if (ec) shard_.count_send_failure();
}

}  // namespace turnpike::server::net
