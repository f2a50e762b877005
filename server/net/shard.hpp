// SPDX-License-Identifier: Apache-2.0
// A shard: one thread, one io_context, one engine with its timer, and the client side of the
// network: its UDP listening sockets, TCP acceptors and stream connections (bound with
// SO_REUSEPORT next to the other shards'). It feeds the engine its inputs (client and peer
// datagrams, stream frames, store answers, the time) and carries its outputs to clients.
// Beside it, rooms of their own: the poller (poller.hpp), the outbox (outbox.hpp), per-IP
// stream admission (stream_admission.hpp), statistics (shard_stats.hpp) and the relays
// (relays/relay_pool.hpp). Nothing on the packet path is shared with other shards; they meet
// only for start, stop, statistics and (on Allocate) quotas and port reservations.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/engine/engine.hpp"
#include "server/engine/store_link.hpp"
#include "server/net/datagram_io.hpp"
#include "server/net/dtls.hpp"
#include "server/net/outbox.hpp"
#include "server/net/poller.hpp"
#include "server/net/relays/relay_pool.hpp"
#include "server/net/shard_stats.hpp"
#include "server/net/stream_admission.hpp"
#include "server/net/stream_connection.hpp"

namespace turnpike::server::net {

class udp_socket;
class tcp_listener;
class stream_connection;

// The stores a shard's engine asks (either may be null: none asked).
struct engine_stores {
  auth::key_source* keys = nullptr;
  auth::allocation_quota* quota = nullptr;
};

class shard final : public engine::client_sink, public relay_host, private poll_handler {
 public:
  explicit shard(unsigned index);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  unsigned index() const noexcept override { return index_; }
  boost::asio::io_context& io() noexcept override { return io_; }

  // Before start(), from the main thread. Return the bound address (an OS-chosen port filled
  // in). Throw boost::system::system_error when binding fails.
  // With `dtls`, the socket also serves DTLS (told apart by the first byte).
  protocol::transport_address open_udp(const protocol::transport_address& local,
                                       std::shared_ptr<boost::asio::ssl::context> dtls = nullptr);
  // With `tls`, the listener tells TLS from plain TCP by each connection's first byte.
  protocol::transport_address open_tcp(const protocol::transport_address& local,
                                       std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  // relay-mux: opens this shard's receive socket (in the program's socket map) and raw send
  // socket for every family of `ips`. Called while the server is set up, before any thread
  // starts, so the capabilities it needs can be dropped afterwards.
  void open_mux_sockets(const std::vector<protocol::transport_address>& ips, relay_mux& mux);

  // After the listeners are bound (the engine's peer policy needs their addresses), before
  // start(). With shard-packing, hands the program this shard's UDP listeners (throws
  // boost::system::system_error when it cannot).
  void init_engine(engine::engine_settings settings, engine_stores stores, relay_setup relays,
                   stream_limits limits = {});
  void start();
  // Thread-safe: TLS listeners take `tls` for connections accepted from now on, DTLS ones
  // `dtls` for new handshakes (either may be null: unchanged).
  void reload_tls(const std::shared_ptr<boost::asio::ssl::context>& tls,
                  const std::shared_ptr<boost::asio::ssl::context>& dtls);
  // Thread-safe: the engine takes realm options from a user database on its own thread.
  void apply_realm_options(auth::realm_options options);
  // Thread-safe: the engine stops taking new allocations (a graceful stop begins).
  void drain(std::optional<protocol::transport_address> alternate);
  // Thread-safe: ends allocations, closes every socket on the shard's thread and lets run()
  // return.
  void stop();
  void join();

  // After join().
  engine::engine_counters counters() const noexcept {
    return engine_ ? engine_->counters() : engine::engine_counters{};
  }
  std::uint64_t send_failures() const noexcept { return out_.failures(); }
  dtls_counters dtls_totals() const noexcept;
  // Thread-safe: a snapshot made on the shard's thread (never resolves once it has stopped).
  std::future<shard_snapshot> snapshot();
  // Thread-safe: the sessions API on the shard's thread (never resolve once it has stopped).
  std::future<std::vector<engine::session_info>> sessions(engine::session_filter filter);
  std::future<std::size_t> end_sessions(engine::session_filter filter);

  // From the shard's listeners and stream connections.
  void on_client_packet(const engine::five_tuple& path, protocol::byte_span bytes) noexcept;

  // Streams (TCP, TLS, DTLS sessions): admission per client IP, the open connections.
  void count_stream_timeout() noexcept { ++stream_timeouts_; }
  std::uint64_t stream_timeouts() const noexcept { return stream_timeouts_; }
  std::uint64_t streams_refused() const noexcept { return admission_.refused(); }
  const stream_limits& stream_limits_in_force() const noexcept { return limits_; }
  // Counts an accepted stream against its IP; false (not counted) when the IP already has
  // limits.per_ip on this shard. Every admitted stream is released exactly once: by
  // remove_connection, or by release_stream when it never became a connection.
  bool admit_stream(const protocol::transport_address& remote) noexcept {
    return admission_.admit(remote);
  }
  void release_stream(const protocol::transport_address& remote) noexcept {
    admission_.release(remote);
  }
  void add_connection(const engine::five_tuple& t, stream_connection* c);
  void remove_connection(const engine::five_tuple& t) noexcept;
  // Closes the spare relay sockets now (out of descriptors).
  void give_back_spares() noexcept;

  // engine::client_sink
  void send_to_client(const engine::five_tuple& path, protocol::byte_span bytes) override;
  // relay_host
  poller& poll() noexcept override { return poll_; }
  outbox& out() noexcept override { return out_; }
  receive_batch& receive_buffers() noexcept override { return *receive_; }
  std::minstd_rand& rng() noexcept override { return rng_; }
  void on_peer_packet(engine::relay_id id, const protocol::transport_address& peer,
                      protocol::byte_span bytes) noexcept override;
  void on_peer_connected(std::uint32_t connection_id, bool ok) noexcept override;
  bool on_peer_tcp_connection(engine::relay_id id, const protocol::transport_address& peer,
                              const engine::engine::connection_holder& hold) noexcept override;
  stream_connection* client_connection(const engine::five_tuple& path) noexcept override;

 private:
  // Runs `f` on the shard's thread; its result through the future.
  template <class F>
  auto on_own_thread(F f) -> std::future<decltype(f())> {
    auto promise = std::make_shared<std::promise<decltype(f())>>();
    auto result = promise->get_future();
    boost::asio::post(io_, [promise, f = std::move(f)]() mutable { promise->set_value(f()); });
    return result;
  }
  static engine::instant now() noexcept;
  void rearm_timer();
  // poll_handler: listener keys go to the UDP listeners, the rest to the relays; each round's
  // datagrams leave together when it ends.
  bool read_ready(poll_key key) noexcept override;
  void round_started() noexcept override;
  void round_ended(int ready) noexcept override;

  unsigned index_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::minstd_rand rng_;
  outbox out_;
  std::unique_ptr<receive_batch> receive_ = std::make_unique<receive_batch>();
  poller poll_;
  std::optional<outbox::scope> round_;  // open while the poller reads a round
  std::unique_ptr<mux_relays> mux_;     // relay-mux sockets, until the pool takes them
  std::optional<relay_pool> relays_;
  shard_packing* packing_ = nullptr;
  std::optional<engine::store_link> stores_;  // answers enter the engine as inputs
  std::optional<engine::engine> engine_;
  boost::asio::steady_timer timer_;
  engine::clock::time_point armed_ = engine::clock::time_point::max();
  std::vector<std::unique_ptr<udp_socket>> udp_;
  std::vector<std::unique_ptr<tcp_listener>> tcp_;
  std::unordered_map<engine::five_tuple, stream_connection*, engine::five_tuple_hash> connections_;
  stream_limits limits_;
  stream_admission admission_;
  std::uint64_t stream_timeouts_ = 0;
  handling_histogram handling_;
  std::thread thread_;
};

}  // namespace turnpike::server::net
