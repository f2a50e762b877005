// SPDX-License-Identifier: Apache-2.0
// One relay socket (the relayed transport address of an allocation, RFC 8656 section 2.2), a
// bare descriptor in the shard's poller: drain() reads peer datagrams in batches into the
// shard's receive_batch and hands them to the shard's engine; client data goes to peers
// through the shard's send batch, without blocking.
#pragma once

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"
#include "server/engine/relay_io.hpp"

namespace turnpike::server::net {

class shard;

class relay_socket {
 public:
  // Takes `fd`, a UDP socket bound to `local` (with DF on its datagrams when
  // `dont_fragment`); `tuned`: its buffer sizes are set already (a spare socket).
  relay_socket(shard& owner, engine::relay_id id, int fd, const protocol::transport_address& local,
               bool dont_fragment, bool tuned = false) noexcept;
  ~relay_socket();
  relay_socket(const relay_socket&) = delete;
  relay_socket& operator=(const relay_socket&) = delete;
  int fd() const noexcept { return fd_; }
  void close() noexcept;
  // Gives the descriptor up without closing it (a drain under way stops); -1 if closed.
  int release() noexcept;
  const protocol::transport_address& local() const noexcept { return local_; }
  bool dont_fragment() const noexcept { return dont_fragment_; }
  // Reads what is queued (a bounded number of batches). True: more may be left.
  bool drain() noexcept;
  void send_to(const protocol::transport_address& peer, protocol::byte_span bytes) noexcept;

 private:
  shard& shard_;
  engine::relay_id id_;
  int fd_;
  protocol::transport_address local_;
  bool dont_fragment_;
};

}  // namespace turnpike::server::net
