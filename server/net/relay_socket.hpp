// SPDX-License-Identifier: Apache-2.0
// One relay socket (the relayed transport address of an allocation, RFC 8656 section 2.2), a
// bare descriptor in the shard's poller: drain() reads peer datagrams in batches into the
// shard's receive_batch and hands them to the shard's engine; client data goes to peers
// through the shard's send batch, without blocking.
#pragma once

#include "protocol/bytes.hpp"
#include "server/engine/relay_io.hpp"

namespace turnpike::server::net {

class shard;

class relay_socket {
 public:
  // Takes `fd`, a bound UDP socket.
  relay_socket(shard& owner, engine::relay_id id, int fd) noexcept;
  ~relay_socket();
  relay_socket(const relay_socket&) = delete;
  relay_socket& operator=(const relay_socket&) = delete;
  int fd() const noexcept { return fd_; }
  void close() noexcept;
  // Reads what is queued (a bounded number of batches). True: more may be left.
  bool drain() noexcept;
  void send_to(const protocol::transport_address& peer, protocol::byte_span bytes) noexcept;

 private:
  shard& shard_;
  engine::relay_id id_;
  int fd_;
};

}  // namespace turnpike::server::net
