// SPDX-License-Identifier: Apache-2.0
// What a shard sends as datagrams. While a scope is open (the poller handling every socket
// one wake-up found readable), datagrams are queued in a send_batch and leave together when
// the last scope closes; outside any scope (timers, streams, TLS) they leave at once. A
// datagram that cannot leave (buffer full, unreachable, too large) is dropped and counted in
// failures(), never retried or waited for.
#pragma once

#include <cstdint>
#include <memory>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"
#include "server/net/datagram_io.hpp"

namespace turnpike::server::net {

class outbox {
 public:
  class scope {
   public:
    explicit scope(outbox& o) noexcept : o_(o) { ++o_.depth_; }
    ~scope() {
      if (--o_.depth_ == 0) o_.flush();
    }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

   private:
    outbox& o_;
  };

  // `header`, when given, goes in front of `bytes` (a raw socket's IP and UDP headers). False
  // when a datagram sent at once failed (counted); a queued one's failure is counted at flush.
  bool send(int fd, const protocol::transport_address& to, protocol::byte_span bytes,
            protocol::byte_span header = {}) noexcept;
  // To a connected socket's peer. Always through the batch, which alone knows a connected
  // socket's pending ICMP error; outside a scope it leaves at once.
  void send_connected(int fd, protocol::byte_span bytes) noexcept;
  void flush() noexcept;
  void count_failure() noexcept { ++failures_; }
  std::uint64_t failures() const noexcept { return failures_; }
  const send_batch& batch() const noexcept { return *batch_; }

 private:
  std::unique_ptr<send_batch> batch_ = std::make_unique<send_batch>();
  int depth_ = 0;
  std::uint64_t failures_ = 0;
};

}  // namespace turnpike::server::net
