// SPDX-License-Identifier: Apache-2.0
// One relay socket (the relayed transport address of an allocation, RFC 8656 section 2.2), a
// bare descriptor in the shard's poller: read() reads peer datagrams in batches into the
// shard's receive_batch and hands them to the shard's engine; client data goes to peers
// through the shard's outbox, without blocking.
//
// Once the allocation has sent connect_after datagrams in a row to one peer transport
// address, a second socket is bound to the same relayed address (SO_REUSEPORT) and connected
// to that peer: datagrams to it leave without an address or a route lookup, and the kernel
// delivers that peer's datagrams to it. Everything else (the peer IP's other ports, other
// peers) still arrives on the first socket, so permissions stay per IP; both sockets' datagrams
// go through the same engine checks. One try per allocation, and none while descriptors are
// short (udp_relays::connect).
#pragma once

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"
#include "server/engine/relay_io.hpp"

namespace turnpike::server::net {

class udp_relays;

class relay_socket {
 public:
  // Takes `fd`, a UDP socket bound to `local` (with DF on its datagrams when
  // `dont_fragment`); `tuned`: its buffer sizes are set already (a spare socket).
  relay_socket(udp_relays& owner, engine::relay_id id, int fd,
               const protocol::transport_address& local, bool dont_fragment,
               bool tuned = false) noexcept;
  ~relay_socket();
  relay_socket(const relay_socket&) = delete;
  relay_socket& operator=(const relay_socket&) = delete;
  static constexpr unsigned connect_after = 16;
  engine::relay_id id() const noexcept { return id_; }
  int fd() const noexcept { return fd_; }
  void close() noexcept;
  // Gives the descriptor up without closing it (a read under way stops), and closes the
  // connected socket; -1 if closed.
  int release() noexcept;
  const protocol::transport_address& local() const noexcept { return local_; }
  bool dont_fragment() const noexcept { return dont_fragment_; }
  // Reads what is queued (a bounded number of batches). True: more may be left.
  bool read() noexcept;
  // The same for the connected socket.
  bool read_connected() noexcept;
  void send_to(const protocol::transport_address& peer, protocol::byte_span bytes) noexcept;

 private:
  void close_connected() noexcept;
  // Reads `fd` (fd_ or connected_fd_, through the reference: a close during the read stops
  // it) into the engine as this relay's peer datagrams.
  bool read_from(const int& fd) noexcept;

  udp_relays& owner_;
  engine::relay_id id_;
  int fd_;
  protocol::transport_address local_;
  bool dont_fragment_;
  int connected_fd_ = -1;
  protocol::transport_address connected_peer_;
  protocol::transport_address last_peer_;  // where the last datagram went
  unsigned in_a_row_ = 0;                  // datagrams sent to last_peer_ in a row
  bool connect_tried_ = false;
};

}  // namespace turnpike::server::net
