// SPDX-License-Identifier: Apache-2.0
// Relay socket: batched receive and non-blocking send.
#include "server/net/relays/relay_socket.hpp"

#include <unistd.h>

#include "server/net/datagram_io.hpp"
#include "server/net/outbox.hpp"
#include "server/net/relays/udp_relays.hpp"

namespace turnpike::server::net {

relay_socket::relay_socket(udp_relays& owner, engine::relay_id id, int fd,
                           const protocol::transport_address& local, bool dont_fragment,
                           bool tuned) noexcept
    : owner_(owner), id_(id), fd_(fd), local_(local), dont_fragment_(dont_fragment) {
  // The default send buffer is plenty for one allocation's bursts (one syscall less per
  // Allocate); the receive side takes a peer's bursts between two wake-ups.
  if (!tuned) tune_udp_socket(fd_, udp_relays::buffer_bytes, 0);
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

bool relay_socket::read() noexcept {
  return read_from(fd_);
}

bool relay_socket::read_connected() noexcept {
  return read_from(connected_fd_);
}

bool relay_socket::read_from(const int& fd) noexcept {
  relay_host& host = owner_.host();
  return read_socket(
      host.receive_buffers(), fd,
      [this, &host](const protocol::transport_address& from, protocol::byte_span bytes) {
        host.on_peer_packet(id_, from, bytes);
      });
}

void relay_socket::send_to(const protocol::transport_address& peer,
                           protocol::byte_span bytes) noexcept {
  outbox& out = owner_.host().out();
  if (fd_ < 0) {
    out.count_failure();
    return;
  }
  if (connected_fd_ >= 0 && peer == connected_peer_) {
    out.send_connected(connected_fd_, bytes);
    return;
  }
  out.send(fd_, peer, bytes);
  if (connect_tried_) return;
  if (in_a_row_ == 0 || peer != last_peer_) {
    last_peer_ = peer;
    in_a_row_ = 1;
    return;
  }
  if (++in_a_row_ < connect_after) return;
  connect_tried_ = true;
  connected_fd_ = owner_.connect(*this, peer);
  if (connected_fd_ >= 0) connected_peer_ = peer;
}

}  // namespace turnpike::server::net
