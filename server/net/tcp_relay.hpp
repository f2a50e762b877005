// SPDX-License-Identifier: Apache-2.0
// RFC 6062 pieces of the network layer: the listening socket of a TCP relay (peers connect
// in), and the server-wide table of peer connections waiting for the client's ConnectionBind.
// The data connection's ConnectionBind may arrive on any shard (SO_REUSEPORT hashes the new
// connection anywhere), so waiting peer sockets are kept as bare descriptors under a mutex
// (touched on connection set-up only) and adopted by whichever shard binds them; 30 s later
// an unclaimed one is closed (RFC 6062 section 5.3/5.4).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "server/engine/relay_io.hpp"

namespace turnpike::server::net {

class shard;

class tcp_connection_registry {
 public:
  static constexpr std::chrono::seconds bind_limit{30};

  // Keeps `fd` (a connected peer socket) under `id`; false if the id is taken.
  bool put(std::uint32_t id, int fd, engine::tcp_connection_credentials credentials);
  std::optional<engine::tcp_connection_credentials> credentials(std::uint32_t id);
  // Takes the descriptor (the caller owns it from now on).
  std::optional<int> take(std::uint32_t id);
  ~tcp_connection_registry();

 private:
  struct held {
    int fd;
    engine::tcp_connection_credentials credentials;
    std::chrono::steady_clock::time_point until;
  };
  void drop_expired(std::chrono::steady_clock::time_point now);
  std::mutex mutex_;
  std::map<std::uint32_t, held> held_;
};

// A TCP relay's listening socket: peers connect to the relayed address.
class tcp_relay_listener : public std::enable_shared_from_this<tcp_relay_listener> {
 public:
  tcp_relay_listener(shard& owner, engine::relay_id id, boost::asio::ip::tcp::acceptor acceptor);
  void start();
  void close() noexcept;

 private:
  void accept();
  shard& shard_;
  engine::relay_id id_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace turnpike::server::net
