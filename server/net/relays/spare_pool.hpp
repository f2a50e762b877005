// SPDX-License-Identifier: Apache-2.0
// Spare relay sockets: a deleted allocation's UDP relay socket is kept, still bound and in the
// poller, for the next allocation on this shard with the same family and DF setting (socket,
// bind, setsockopt, epoll_ctl ADD and close were a third of the server's CPU per Allocate).
// At most max_spares, each for `lifetime`; datagrams that reach one meanwhile are discarded
// when it is taken. The caller's clock is a parameter, so tests need no waiting.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <random>
#include <vector>

#include "protocol/types.hpp"

namespace turnpike::server::net {

class spare_pool {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr std::size_t max_spares = 64;
  static constexpr std::chrono::seconds lifetime{2};
  // A datagram flood into a spare: after this many discarded, the socket is let go.
  static constexpr int max_discarded = 4096;

  spare_pool() = default;
  ~spare_pool() { clear(); }
  spare_pool(const spare_pool&) = delete;
  spare_pool& operator=(const spare_pool&) = delete;

  // Keeps `fd` (bound to `local`) if there is room; false: the caller closes it.
  bool keep(int fd, const protocol::transport_address& local, bool dont_fragment,
            time_point now) noexcept;
  // A spare of `family` and DF setting from a random place (so the next allocation's port is
  // not simply the last one freed), emptied of queued datagrams; -1 when there is none.
  // Spares past their lifetime are closed first.
  int take(protocol::address_family family, bool dont_fragment, protocol::transport_address& local,
           time_point now, std::minstd_rand& rng) noexcept;
  // Closes spares past their lifetime.
  void expire(time_point now) noexcept;
  void clear() noexcept;
  // When the oldest spare's lifetime ends; nothing when there is none.
  std::optional<time_point> next_expiry() const noexcept;
  std::size_t size() const noexcept { return spares_.size(); }
  bool empty() const noexcept { return spares_.empty(); }

 private:
  struct spare {
    int fd = -1;
    protocol::transport_address local;
    bool dont_fragment = false;
    time_point since;
  };
  std::vector<spare> spares_;  // oldest first
};

}  // namespace turnpike::server::net
