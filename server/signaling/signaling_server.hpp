// SPDX-License-Identifier: Apache-2.0
// The signaling service on its own port and thread (Boost.Beast): HTTP/1.1 and WebSocket, over
// TLS too when a certificate is configured (the first bytes tell a TLS ClientHello from plain
// HTTP, as on the TURN stream ports). One io_context thread owns the rooms, so nothing locks.
// Limits: connections per IP, request and message size, an idle timeout (WebSockets are pinged
// at half of it and closed when nothing comes back), a bounded write queue per WebSocket.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "protocol/types.hpp"
#include "server/config/config.hpp"
#include "server/signaling/service.hpp"

namespace turnpike::server::signaling {

// Read by the metrics endpoint from another thread.
struct signaling_stats {
  std::atomic<std::uint64_t> connections{0};  // open now (HTTP and WebSocket)
  std::atomic<std::uint64_t> websockets{0};   // open now
  std::atomic<std::uint64_t> rooms{0};
  std::atomic<std::uint64_t> peers{0};
  std::atomic<std::uint64_t> refused_connections{0};  // signaling-connections-per-ip
  std::atomic<std::uint64_t> relayed{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> credentials_issued{0};
  std::atomic<std::uint64_t> credentials_refused{0};
  std::atomic<std::uint64_t> credentials_throttled{0};
};

class signaling_server {
 public:
  // Binds (throws boost::system::system_error naming the address) and starts serving. `tls`
  // null: plain HTTP and WebSocket only.
  signaling_server(const config::server_config& cfg, std::vector<std::string> ice_urls,
                   std::shared_ptr<boost::asio::ssl::context> tls);
  ~signaling_server();
  signaling_server(const signaling_server&) = delete;
  signaling_server& operator=(const signaling_server&) = delete;

  const protocol::transport_address& local() const noexcept { return local_; }
  const signaling_stats& stats() const noexcept { return stats_; }
  bool tls() const noexcept { return tls_ != nullptr; }
  // A new certificate (SIGUSR2): connections accepted from now on use it.
  void set_tls(std::shared_ptr<boost::asio::ssl::context> tls);

  struct shared;  // what sessions reach: the service, limits, per-IP counts

 private:
  void accept();
  void tick();

  signaling_stats stats_;
  std::unique_ptr<shared> shared_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer ticker_;
  protocol::transport_address local_;
  std::thread thread_;
};

}  // namespace turnpike::server::signaling
