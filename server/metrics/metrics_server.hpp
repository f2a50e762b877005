// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics over HTTP (Boost.Beast on its own thread; prometheus-cpp's data model and
// text serializer): `prometheus-path` (default /metrics) answers the exposition, `/` answers
// "ok" while the process runs (liveness), `/ready` answers 200 until draining starts, then 503
// (readiness: load balancers stop sending new clients). Each scrape asks every shard for a
// snapshot on the shard's own thread (its counters are plain integers written by that thread
// alone), so the packet path carries no lock and no atomic for metrics.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <thread>

#include "protocol/types.hpp"
#include "server/net/server.hpp"
#include "server/signaling/signaling_server.hpp"

namespace turnpike::server::metrics {

// The exposition text for `srv` (and the signaling service, when there is one) now.
std::string render(const net::server& srv, bool draining,
                   const signaling::signaling_stats* signaling = nullptr);

class metrics_server {
 public:
  // Binds (throws boost::system::system_error naming the address) and starts serving.
  // With a non-empty `admin_api_key`, the sessions API (sessions_api.hpp) is served too.
  metrics_server(const net::server& srv, const protocol::transport_address& at, std::string path,
                 const signaling::signaling_stats* signaling = nullptr,
                 std::string admin_api_key = {});
  ~metrics_server();
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  const protocol::transport_address& local() const noexcept { return local_; }
  void set_draining() noexcept { draining_ = true; }

 private:
  void accept();

  const net::server& srv_;
  const signaling::signaling_stats* signaling_;
  std::string path_;
  std::string admin_api_key_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  protocol::transport_address local_;
  std::atomic<bool> draining_{false};
  std::thread thread_;
};

}  // namespace turnpike::server::metrics
