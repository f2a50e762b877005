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
#include "server/net/held_descriptors.hpp"

namespace turnpike::server::net {

class shard;

// Connected peer sockets waiting for ConnectionBind, with the credentials it must carry.
using tcp_connection_registry = held_descriptors<std::uint32_t, engine::tcp_connection_credentials>;
inline constexpr std::chrono::seconds tcp_bind_limit{30};

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
