// SPDX-License-Identifier: Apache-2.0
// Relay socket: batched receive and non-blocking send.
#include "server/net/relay_socket.hpp"

#include <unistd.h>

#include "server/net/datagram_io.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

relay_socket::relay_socket(shard& owner, engine::relay_id id, int fd,
                           const protocol::transport_address& local, bool dont_fragment,
                           bool tuned) noexcept
    : shard_(owner), id_(id), fd_(fd), local_(local), dont_fragment_(dont_fragment) {
  // The default send buffer is plenty for one allocation's bursts (one syscall less per
  // Allocate); the receive side takes a peer's bursts between two wake-ups.
  if (!tuned) tune_udp_socket(fd_, shard::relay_buffer_bytes, 0);
}

relay_socket::~relay_socket() {
  close();
}

void relay_socket::close() noexcept {
  close_connected();
  if (fd_ < 0) return;
  ::close(fd_);  // leaves the shard's poller with it
  fd_ = -1;
}

void relay_socket::close_connected() noexcept {
  if (connected_fd_ < 0) return;
  ::close(connected_fd_);
  connected_fd_ = -1;
}

int relay_socket::release() noexcept {
  close_connected();
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

bool relay_socket::drain() noexcept {
  return drain_from(fd_);
}

bool relay_socket::drain_connected() noexcept {
  return drain_from(connected_fd_);
}

bool relay_socket::drain_from(const int& fd) noexcept {
  return drain_socket(shard_.receive_buffers(), fd,
                      [this](const protocol::transport_address& from, protocol::byte_span bytes) {
                        shard_.on_peer_packet(id_, from, bytes);
                      });
}

void relay_socket::send_to(const protocol::transport_address& peer,
                           protocol::byte_span bytes) noexcept {
  if (fd_ < 0) {
    shard_.count_send_failure();
    return;
  }
  if (connected_fd_ >= 0 && peer == connected_peer_) {
    shard_.send_connected(connected_fd_, bytes);
    return;
  }
  if (!shard_.send_datagram(fd_, peer, bytes)) shard_.count_send_failure();
  if (connect_tried_) return;
  if (in_a_row_ == 0 || peer != last_peer_) {
    last_peer_ = peer;
    in_a_row_ = 1;
    return;
  }
  if (++in_a_row_ < connect_after) return;
  connect_tried_ = true;
  connected_fd_ = shard_.connect_relay(*this, peer);
  if (connected_fd_ >= 0) connected_peer_ = peer;
}

}  // namespace turnpike::server::net
