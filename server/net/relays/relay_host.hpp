// SPDX-License-Identifier: Apache-2.0
// What a shard's relays need from the shard that hosts them: its thread's io_context, poller,
// outbox and receive buffers, a random source, and a way to hand what peers send to the
// engine (the shard adds the time). One per shard, passed to every kind of relay.
#pragma once

#include <boost/asio/io_context.hpp>
#include <random>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"
#include "server/engine/engine.hpp"

namespace turnpike::server::net {

class poller;
class outbox;
class receive_batch;
class stream_connection;

class relay_host {
 public:
  virtual boost::asio::io_context& io() noexcept = 0;
  virtual poller& poll() noexcept = 0;
  virtual outbox& out() noexcept = 0;
  virtual receive_batch& receive_buffers() noexcept = 0;
  virtual std::minstd_rand& rng() noexcept = 0;
  virtual unsigned index() const noexcept = 0;
  // A datagram from `peer` to relay `id`.
  virtual void on_peer_packet(engine::relay_id id, const protocol::transport_address& peer,
                              protocol::byte_span bytes) noexcept = 0;
  // RFC 6062: the outcome of a connection to a peer; a peer connected to TCP relay `id`.
  virtual void on_peer_connected(std::uint32_t connection_id, bool ok) noexcept = 0;
  virtual bool on_peer_tcp_connection(engine::relay_id id, const protocol::transport_address& peer,
                                      const engine::engine::connection_holder& hold) noexcept = 0;
  // The client's stream connection on `path` (RFC 6062 data connections), if open here.
  virtual stream_connection* client_connection(const engine::five_tuple& path) noexcept = 0;

 protected:
  ~relay_host() = default;
};

// The relay addresses of one family, picked at random (each relay port is probed on one of
// them, so every address's ports get used).
class relay_addresses {
 public:
  relay_addresses(std::vector<protocol::transport_address> ips, std::minstd_rand& rng)
      : ips_(std::move(ips)), rng_(rng) {}
  // nullptr when there is none of `family`.
  const protocol::transport_address* pick(protocol::address_family family) noexcept {
    const protocol::transport_address* chosen = nullptr;
    unsigned seen = 0;
    for (const auto& candidate : ips_) {
      // Each as likely (reservoir sampling of one).
      if (candidate.family == family && rng_() % ++seen == 0) chosen = &candidate;
    }
    return chosen;
  }

 private:
  std::vector<protocol::transport_address> ips_;
  std::minstd_rand& rng_;
};

}  // namespace turnpike::server::net
