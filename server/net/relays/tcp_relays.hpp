// SPDX-License-Identifier: Apache-2.0
// A shard's RFC 6062 TCP relays: a listening socket on each relayed address (peers connect
// in: offered to the client by ConnectionAttempt), outgoing connections to peers bound to
// the same address (Connect), and the hand-over of a peer connection to the client's data
// connection (ConnectionBind) through the server-wide registry (relay_ports.hpp).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <optional>
#include <unordered_map>

#include "server/engine/relay_io.hpp"
#include "server/net/relays/relay_host.hpp"
#include "server/net/relays/relay_ports.hpp"

namespace turnpike::server::net {

class tcp_relays;

// A TCP relay's listening socket: peers connect to the relayed address.
class tcp_relay_listener : public std::enable_shared_from_this<tcp_relay_listener> {
 public:
  tcp_relay_listener(tcp_relays& owner, engine::relay_id id,
                     boost::asio::ip::tcp::acceptor acceptor);
  void start();
  void close() noexcept;

 private:
  void accept();
  tcp_relays& owner_;
  engine::relay_id id_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

class tcp_relays {
 public:
  tcp_relays(relay_host& host, relay_addresses& addresses, std::uint16_t min_port,
             std::uint16_t max_port, tcp_connection_registry& connections);
  tcp_relays(const tcp_relays&) = delete;
  tcp_relays& operator=(const tcp_relays&) = delete;

  std::optional<engine::opened_relay> open(const engine::relay_request& request,
                                           engine::relay_id id, engine::relay_error& why);
  bool close(engine::relay_id id) noexcept;
  void connect_peer(engine::relay_id id, const protocol::transport_address& peer,
                    std::uint32_t connection_id,
                    const engine::tcp_connection_credentials& credentials);
  std::optional<engine::tcp_connection_credentials> connection_credentials(
      std::uint32_t connection_id);
  bool bind_connection(std::uint32_t connection_id, const engine::five_tuple& data_path);
  // A peer connected to relay `id`.
  void on_peer_connection(engine::relay_id id, boost::asio::ip::tcp::socket peer);
  void close_all() noexcept;
  std::size_t size() const noexcept { return relays_.size(); }

 private:
  struct relay {
    protocol::transport_address local;
    std::shared_ptr<tcp_relay_listener> listener;
  };
  relay_host& host_;
  relay_addresses& addresses_;
  std::uint16_t min_port_;
  std::uint16_t max_port_;
  tcp_connection_registry& connections_;
  std::unordered_map<engine::relay_id, relay> relays_;
};

}  // namespace turnpike::server::net
