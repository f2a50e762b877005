// SPDX-License-Identifier: Apache-2.0
// A shard: one thread, one io_context, one engine, and its own UDP sockets, TCP acceptors and
// TCP connections (each bound with SO_REUSEPORT next to the other shards'). Nothing on the
// packet path is shared with other shards; they meet only for start, stop and statistics.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/engine/engine.hpp"

namespace turnpike::server::net {

class udp_socket;
class tcp_listener;
class tcp_connection;

struct five_tuple_hash {
  std::size_t operator()(const engine::five_tuple& t) const noexcept;
};

class shard final : public engine::client_sink {
 public:
  shard(unsigned index, engine::engine_settings settings);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  unsigned index() const noexcept { return index_; }
  boost::asio::io_context& io() noexcept { return io_; }
  engine::engine& engine() noexcept { return engine_; }

  // Before start(), from the main thread. Return the bound address (an OS-chosen port filled
  // in). Throw boost::system::system_error when binding fails.
  protocol::transport_address open_udp(const protocol::transport_address& local);
  protocol::transport_address open_tcp(const protocol::transport_address& local);

  void start();
  // Thread-safe: closes every socket on the shard's thread and lets run() return.
  void stop();
  void join();

  // After join().
  engine::engine_counters counters() const noexcept { return engine_.counters(); }
  std::uint64_t send_failures() const noexcept { return send_failures_; }

  void send_to_client(const engine::five_tuple& path, protocol::byte_span bytes) override;

  // Stream connections announce themselves so responses can find them.
  void add_connection(const engine::five_tuple& t, tcp_connection* c);
  void remove_connection(const engine::five_tuple& t) noexcept;

 private:
  unsigned index_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  engine::engine engine_;
  std::vector<std::unique_ptr<udp_socket>> udp_;
  std::vector<std::unique_ptr<tcp_listener>> tcp_;
  std::unordered_map<engine::five_tuple, tcp_connection*, five_tuple_hash> connections_;
  std::uint64_t send_failures_ = 0;
  std::thread thread_;
};

}  // namespace turnpike::server::net
