// SPDX-License-Identifier: Apache-2.0
// A shard's UDP relays, one socket each (relay_socket.hpp): opened on a reserved port
// (RESERVATION-TOKEN), a spare socket (spare_pool.hpp) or a fresh port found by the port
// probe (EVEN-PORT's even port and the reserved next one included); each relay's connected
// twin for its busiest peer; closed, or kept as a spare when the port range is large enough.
#pragma once

#include <sys/resource.h>

#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <unordered_map>

#include "server/engine/relay_io.hpp"
#include "server/net/relays/relay_host.hpp"
#include "server/net/relays/relay_ports.hpp"
#include "server/net/relays/relay_socket.hpp"
#include "server/net/relays/spare_pool.hpp"

namespace turnpike::server::net {

class udp_relays {
 public:
  // Receive buffer asked for each relay socket: one allocation's bursts between wake-ups.
  static constexpr int buffer_bytes = 1 << 20;
  // In a smaller port range the spares of every shard together could hold the ports a new
  // allocation needs (a shard can give back only its own): none kept there.
  static constexpr unsigned min_range_for_spares = 4096;

  udp_relays(relay_host& host, relay_addresses& addresses, std::uint16_t min_port,
             std::uint16_t max_port, relay_reservations* reservations);
  udp_relays(const udp_relays&) = delete;
  udp_relays& operator=(const udp_relays&) = delete;

  relay_host& host() noexcept { return host_; }
  std::optional<engine::opened_relay> open(const engine::relay_request& request,
                                           engine::relay_id id, engine::relay_error& why);
  // False when `id` is not one of these.
  bool close(engine::relay_id id) noexcept;
  bool send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                    protocol::byte_span bytes) noexcept;
  // The poller found relay `id`'s socket (or its connected twin) readable.
  bool read(engine::relay_id id, bool connected) noexcept;
  // A second socket on `r`'s relayed address, connected to `peer` and in the poller; -1 when
  // descriptors are short or it cannot be made.
  int connect(const relay_socket& r, const protocol::transport_address& peer) noexcept;
  // Closes the spares now (out of descriptors; stopping).
  void give_back_spares() noexcept;
  void close_all() noexcept;
  std::size_t size() const noexcept { return relays_.size(); }
  std::size_t spares() const noexcept { return spares_.size(); }

 private:
  // Whether `fd`, just freed or in use, may be kept or joined by a descriptor the shard could
  // do without (a spare, a connected twin): not while descriptors ran short lately, nor for
  // one in the upper half of RLIMIT_NOFILE (the kernel hands out the lowest free number, so
  // that many are open).
  bool may_hold_more(int fd) const noexcept;
  void arm_spare_timer();

  relay_host& host_;
  relay_addresses& addresses_;
  std::uint16_t min_port_;
  std::uint16_t max_port_;
  relay_reservations* reservations_;
  rlim_t descriptor_limit_ = RLIM_INFINITY;  // RLIMIT_NOFILE's soft limit at start
  std::unordered_map<engine::relay_id, std::shared_ptr<relay_socket>> relays_;
  spare_pool spares_;
  boost::asio::steady_timer spare_timer_;
  bool spare_timer_armed_ = false;
};

}  // namespace turnpike::server::net
