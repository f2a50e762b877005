// SPDX-License-Identifier: Apache-2.0
// The whole server: builds the listen plan, creates the shards, binds every listener on every
// shard (SO_REUSEPORT lets the kernel spread clients over them), runs and stops them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/net/listen_plan.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

struct bound_listener {
  engine::transport proto;
  protocol::transport_address address;
  bool alternate = false;  // RFC 5780 alternate port
};

class server {
 public:
  explicit server(const config::server_config& cfg);
  ~server();

  // Binds all listeners. Throws boost::system::system_error naming the address on failure.
  void open();
  void start();
  void stop();  // thread-safe
  void join();

  const std::vector<bound_listener>& listeners() const noexcept { return listeners_; }
  const listen_plan& plan() const noexcept { return plan_; }
  std::size_t shard_count() const noexcept { return shards_.size(); }
  // After join().
  engine::engine_counters totals() const noexcept;
  std::uint64_t send_failures() const noexcept;

 private:
  config::server_config cfg_;
  listen_plan plan_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::vector<bound_listener> listeners_;
};

// The JSON a WebRTC application puts in RTCPeerConnection's configuration.
std::string ice_servers_json(const std::vector<bound_listener>& listeners,
                             const std::string& username, const std::string& credential);

}  // namespace turnpike::server::net
