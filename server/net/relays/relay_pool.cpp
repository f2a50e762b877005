// SPDX-License-Identifier: Apache-2.0
#include "server/net/relays/relay_pool.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "server/net/outbox.hpp"
#include "server/net/shard_packing.hpp"

namespace turnpike::server::net {

relay_pool::relay_pool(relay_host& host, relay_setup setup, std::unique_ptr<mux_relays> mux)
    : host_(host),
      setup_(std::move(setup)),
      addresses_(setup_.ips, host.rng()),
      udp_(host, addresses_, setup_.min_port, setup_.max_port, setup_.reservations),
      mux_(std::move(mux)) {
  if (setup_.tcp_connections != nullptr) {
    tcp_.emplace(host, addresses_, setup_.min_port, setup_.max_port, *setup_.tcp_connections);
  }
  if (setup_.mux != nullptr && !mux_) mux_ = std::make_unique<mux_relays>(host, *setup_.mux);
}

std::optional<engine::opened_relay> relay_pool::open_relay(const engine::relay_request& request,
                                                           engine::relay_error& why) {
  const engine::relay_id id = next_id_++;
  auto opened = open_here(request, id, why);
  // shard-packing: a failed pin (the map full) leaves the client to the program's hash,
  // which may take it to another shard: its allocation is unknown there (437), as with the
  // kernel's hash alone.
  if (opened && setup_.packing != nullptr && request.client &&
      request.client->proto == engine::transport::udp) {
    if (!setup_.packing->pin(request.client->local, request.client->remote, host_.index())) {
      spdlog::debug("shard-packing: cannot pin {}", request.client->remote.to_string());
    }
    pinned_.emplace(opened->id, *request.client);
  }
  return opened;
}

std::optional<engine::opened_relay> relay_pool::open_here(const engine::relay_request& request,
                                                          engine::relay_id id,
                                                          engine::relay_error& why) {
  // Held sockets past their 30 s go back first (an unused EVEN-PORT reservation, a peer
  // connection nobody bound), so they never keep ports or descriptors longer.
  if (setup_.reservations != nullptr) setup_.reservations->expire();
  if (setup_.tcp_connections != nullptr) setup_.tcp_connections->expire();
  if (request.tcp) {
    if (!tcp_) {
      why = engine::relay_error::no_such_family;
      return std::nullopt;
    }
    return tcp_->open(request, id, why);
  }
  if (mux_) return mux_->open(request, id, why);
  return udp_.open(request, id, why);
}

void relay_pool::close_relay(engine::relay_id id) {
  if (const auto it = pinned_.find(id); it != pinned_.end()) {
    setup_.packing->unpin(it->second.local, it->second.remote);
    pinned_.erase(it);
  }
  // Datagrams queued for this relay's socket leave before its descriptor can be reused.
  host_.out().flush();
  if (udp_.close(id)) return;
  if (tcp_ && tcp_->close(id)) return;
  if (mux_) mux_->close(id);
}

void relay_pool::send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                              protocol::byte_span bytes) {
  if (udp_.send_to_peer(id, peer, bytes)) return;
  if (mux_) mux_->send_to_peer(id, peer, bytes);
}

void relay_pool::connect_peer(engine::relay_id id, const protocol::transport_address& peer,
                              std::uint32_t connection_id,
                              const engine::tcp_connection_credentials& credentials) {
  if (tcp_) {
    tcp_->connect_peer(id, peer, connection_id, credentials);
    return;
  }
  // Never inside the engine's own call: the outcome comes back as an input of its own.
  relay_host* host = &host_;
  boost::asio::post(host_.io(),
                    [host, connection_id] { host->on_peer_connected(connection_id, false); });
}

std::optional<engine::tcp_connection_credentials> relay_pool::connection_credentials(
    std::uint32_t connection_id) {
  if (!tcp_) return std::nullopt;
  return tcp_->connection_credentials(connection_id);
}

bool relay_pool::bind_connection(std::uint32_t connection_id, const engine::five_tuple& data_path) {
  return tcp_ && tcp_->bind_connection(connection_id, data_path);
}

bool relay_pool::read(poll_key key) noexcept {
  switch (key.what) {
    case poll_key::kind::relay:
      return udp_.read(key.number, false);
    case poll_key::kind::connected_relay:
      return udp_.read(key.number, true);
    case poll_key::kind::mux:
      return mux_ && mux_->read(key.number);
    case poll_key::kind::listener:
      break;
  }
  return false;
}

void relay_pool::give_back_spares() noexcept {
  udp_.give_back_spares();
}

void relay_pool::close_all() noexcept {
  host_.out().flush();
  udp_.close_all();
  if (tcp_) tcp_->close_all();
  if (mux_) mux_->close_sockets();
}

std::size_t relay_pool::open_relays() const noexcept {
  return udp_.size() + (tcp_ ? tcp_->size() : 0) + (mux_ ? mux_->size() : 0);
}

}  // namespace turnpike::server::net
