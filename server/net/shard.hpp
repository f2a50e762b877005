// SPDX-License-Identifier: Apache-2.0
// A shard: one thread, one io_context, one engine, and its own UDP sockets, TCP acceptors, TCP
// connections (all bound with SO_REUSEPORT next to the other shards') and relay sockets.
// Nothing on the packet path is shared with other shards; they meet only for start, stop,
// statistics and (on Allocate) quotas and port reservations.
#pragma once

#include <sys/resource.h>
#include <array>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
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
#include "server/net/relay_ports.hpp"
#include "server/net/relay_socket.hpp"
#include "server/net/stream_connection.hpp"
#include "server/net/tcp_relay.hpp"

namespace turnpike::server::net {

class udp_socket;
class tcp_listener;
class relay_mux;
class shard_packing;
class stream_connection;
class relay_socket;

struct relay_setup {
  std::vector<protocol::transport_address> ips;  // relay IPs in use (ports unused)
  std::uint16_t min_port = 49152;
  std::uint16_t max_port = 65535;
  relay_reservations* reservations = nullptr;
  tcp_connection_registry* tcp_connections = nullptr;  // RFC 6062; null: no TCP relays
  relay_mux* mux = nullptr;  // relay-mux: UDP relays share the shard's sockets (relay_mux.hpp)
  shard_packing* packing = nullptr;  // shard-packing: UDP clients pinned here (shard_packing.hpp)
};

// The stores a shard's engine asks (either may be null: none asked).
struct engine_stores {
  auth::key_source* keys = nullptr;
  auth::allocation_quota* quota = nullptr;
};

// Time the shard spent handling one STUN message (not ChannelData), in seconds. Fixed
// buckets, plain counters: only the shard's thread writes them.
struct handling_histogram {
  static constexpr std::array<double, 11> bounds{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4,
                                                 1e-3, 5e-3, 1e-2, 5e-2, 1e-1};
  std::array<std::uint64_t, bounds.size() + 1> counts{};  // the last: above every bound
  double sum = 0;
  void observe(double seconds) noexcept {
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i]) ++i;
    ++counts[i];
    sum += seconds;
  }
  handling_histogram& operator+=(const handling_histogram& o) noexcept {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
    sum += o.sum;
    return *this;
  }
};

// A copy of a shard's state, made on its own thread (metrics).
struct shard_snapshot {
  engine::engine_counters counters;
  engine::engine_gauges gauges;
  dtls_counters dtls;
  handling_histogram handling;
  std::uint64_t send_failures = 0;
  std::uint64_t stream_timeouts = 0;
  std::uint64_t streams_refused = 0;
  std::uint64_t stream_connections = 0;
  std::uint64_t dtls_sessions = 0;
  std::uint64_t relay_sockets = 0;  // UDP and TCP relays open
  std::uint64_t mux_dropped = 0;    // relay-mux: datagrams for relayed addresses not held
  double cpu_seconds = 0;           // the shard thread's CPU time since it started
  shard_snapshot& operator+=(const shard_snapshot& o) noexcept;
};

// IP only (the port is ignored).
struct address_hash {
  std::size_t operator()(const protocol::transport_address& a) const noexcept {
    std::size_t h = 0;
    for (std::uint8_t b : a.ip) h = h * 131 + b;
    return h;
  }
};
// IP and port.
struct transport_address_hash {
  std::size_t operator()(const protocol::transport_address& a) const noexcept {
    return address_hash{}(a)*65599 + a.port;
  }
};

class shard final : public engine::client_sink, public engine::relay_io {
 public:
  explicit shard(unsigned index);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  unsigned index() const noexcept { return index_; }
  boost::asio::io_context& io() noexcept { return io_; }

  // Before start(), from the main thread. Return the bound address (an OS-chosen port filled
  // in). Throw boost::system::system_error when binding fails.
  // With `dtls`, the socket also serves DTLS (told apart by the first byte).
  protocol::transport_address open_udp(const protocol::transport_address& local,
                                       std::shared_ptr<boost::asio::ssl::context> dtls = nullptr);
  // With `tls`, the listener tells TLS from plain TCP by each connection's first byte.
  protocol::transport_address open_tcp(const protocol::transport_address& local,
                                       std::shared_ptr<boost::asio::ssl::context> tls = nullptr);

  // After the listeners are bound (the engine's peer policy needs their addresses), before
  // start(). With shard-packing, hands the program this shard's UDP listeners (throws
  // boost::system::system_error when it cannot).
  void init_engine(engine::engine_settings settings, engine_stores stores, relay_setup relays,
                   stream_limits limits = {});
  void start();
  // Thread-safe: TLS listeners take `tls` for connections accepted from now on, DTLS ones
  // `dtls` for new handshakes (either may be null: unchanged).
  void reload_tls(std::shared_ptr<boost::asio::ssl::context> tls,
                  std::shared_ptr<boost::asio::ssl::context> dtls);
  // Thread-safe: the engine takes realm options from Redis on its own thread.
  void apply_realm_options(auth::realm_options options);
  // Thread-safe: the engine stops taking new allocations.
  void drain(std::optional<protocol::transport_address> alternate);
  // Thread-safe: ends allocations, closes every socket on the shard's thread and lets run()
  // return.
  void stop();
  void join();

  // After join().
  engine::engine_counters counters() const noexcept {
    return engine_ ? engine_->counters() : engine::engine_counters{};
  }
  std::uint64_t send_failures() const noexcept { return send_failures_; }
  dtls_counters dtls_totals() const noexcept;
  // Thread-safe: a snapshot made on the shard's thread (never resolves once it has stopped).
  std::future<shard_snapshot> snapshot();
  // Thread-safe: the sessions API on the shard's thread (never resolve once it has stopped).
  std::future<std::vector<engine::session_info>> sessions(engine::session_filter filter);
  std::future<std::size_t> end_sessions(engine::session_filter filter);

  // From the shard's sockets.
  void on_client_packet(const engine::five_tuple& path, protocol::byte_span bytes) noexcept;
  void on_peer_packet(engine::relay_id id, const protocol::transport_address& peer,
                      protocol::byte_span bytes) noexcept;
  void count_send_failure() noexcept { ++send_failures_; }

  // Socket buffer sizes asked for (the kernel caps them at net.core.rmem_max / wmem_max):
  // listeners take every client's bursts (both ways), relay sockets one allocation's
  // (receive only).
  static constexpr int socket_buffer_bytes = 4 << 20;
  static constexpr int relay_buffer_bytes = 1 << 20;
  // The shard's receive buffers, shared by its UDP sockets (handlers never nest).
  receive_batch& receive_buffers() noexcept { return *receive_; }
  // While a batch_scope is open (the poller handling every UDP socket that one wake-up found
  // readable), datagrams are queued, and they leave together when it closes. Outside a
  // scope (timers, TCP, TLS): sent at once.
  class batch_scope {
   public:
    explicit batch_scope(shard& s) noexcept : s_(s) { ++s_.batching_; }
    ~batch_scope() {
      if (--s_.batching_ == 0) s_.flush_sends();
    }
    batch_scope(const batch_scope&) = delete;
    batch_scope& operator=(const batch_scope&) = delete;

   private:
    shard& s_;
  };
  // `header`, when given, goes in front of `bytes` (a raw socket's IP and UDP headers).
  bool send_datagram(int fd, const protocol::transport_address& to, protocol::byte_span bytes,
                     protocol::byte_span header = {}) noexcept;
  // To a connected socket's peer (a failure is counted when the batch leaves).
  void send_connected(int fd, protocol::byte_span bytes) noexcept;
  // A second socket on `r`'s relayed address, connected to `peer` and in the poller
  // (relay_socket.hpp); -1 when descriptors are short or it cannot be made.
  int connect_relay(const relay_socket& r, const protocol::transport_address& peer) noexcept;
  void flush_sends() noexcept;
  const send_batch& sends() const noexcept { return *send_; }
  void count_stream_timeout() noexcept { ++stream_timeouts_; }
  const stream_limits& stream_limits_in_force() const noexcept { return limits_; }
  // Counts an accepted stream against its IP; false (not counted) when the IP already has
  // limits.per_ip on this shard. Every admitted stream is released exactly once: by
  // remove_connection, or by release_stream when it never became a connection.
  bool admit_stream(const protocol::transport_address& remote) noexcept;
  void release_stream(const protocol::transport_address& remote) noexcept;
  std::uint64_t stream_timeouts() const noexcept { return stream_timeouts_; }
  std::uint64_t streams_refused() const noexcept { return streams_refused_; }
  void add_connection(const engine::five_tuple& t, stream_connection* c);
  void remove_connection(const engine::five_tuple& t) noexcept;

  // engine::client_sink
  void send_to_client(const engine::five_tuple& path, protocol::byte_span bytes) override;
  // engine::relay_io
  std::optional<engine::opened_relay> open_relay(const engine::relay_request& request,
                                                 engine::relay_error& why) override;
  void close_relay(engine::relay_id id) override;
  void send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                    protocol::byte_span bytes) override;
  void connect_peer(engine::relay_id id, const protocol::transport_address& peer,
                    std::uint32_t connection_id,
                    engine::tcp_connection_credentials credentials) override;
  std::optional<engine::tcp_connection_credentials> connection_credentials(
      std::uint32_t connection_id) override;
  bool bind_connection(std::uint32_t connection_id, const engine::five_tuple& data_path) override;
  // relay-mux: opens this shard's receive socket (in the program's socket map) and raw send
  // socket for every family of `ips`. Called while the server is set up, before any thread
  // starts, so the capabilities it needs can be dropped afterwards.
  void open_mux_sockets(const std::vector<protocol::transport_address>& ips, relay_mux& mux);
  // Closes the spare relay sockets now (out of descriptors).
  void give_back_spares() noexcept;
  // A peer connected to one of this shard's TCP relays.
  void on_peer_tcp_connection(engine::relay_id id, boost::asio::ip::tcp::socket peer);

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
  std::optional<engine::opened_relay> open_relay_here(const engine::relay_request& request,
                                                      engine::relay_error& why);
  // A bound UDP socket's descriptor, or -1.
  // With `reuse_port`, SO_REUSEPORT before the bind (the connected socket of a relay).
  static int bind_relay(const protocol::transport_address& at, bool dont_fragment,
                        bool reuse_port = false) noexcept;

  // The poller: the shard's UDP sockets (listeners and relays) sit in an edge-triggered epoll
  // set of their own, registered once; Asio waits on that set's descriptor, so a wake-up
  // costs one re-arm however many sockets it finds readable, and none per socket.
  static constexpr std::uint64_t listener_key = std::uint64_t{1} << 32;   // | index in udp_
  static constexpr std::uint64_t mux_key = std::uint64_t{2} << 32;        // | family index
  static constexpr std::uint64_t connected_key = std::uint64_t{4} << 32;  // | relay id
  // `rekey`: the socket is in the set already (a spare) and takes `key` instead.
  void watch_udp(int fd, std::uint64_t key, bool rekey = false);
  void arm_poll();
  void on_poll();
  int poll_round();  // one epoll_wait of the set and its sockets drained: how many were ready
  void schedule_again();
  void drain_again();
  bool drain_key(std::uint64_t key) noexcept;
  // relay-mux: the shard's receive and raw send sockets, and its share of the relays.
  void close_mux_sockets() noexcept;
  bool drain_mux(std::size_t family) noexcept;
  std::optional<engine::opened_relay> open_mux_relay(const engine::relay_request& request,
                                                     engine::relay_error& why);
  struct mux_relay {
    protocol::transport_address local;
    bool dont_fragment = false;
  };
  // Spare relay sockets: a deleted allocation's UDP relay socket is kept, still bound and in
  // the poller, for the next allocation on this shard with the same family and DF
  // setting (socket, bind, setsockopt, epoll_ctl ADD and close were a third of the server's
  // CPU per Allocate). At most max_spares, each for spare_lifetime, and only with a relay
  // port range of min_range_for_spares ports or more; datagrams that reach one meanwhile are
  // discarded when it is taken.
  struct spare_relay {
    int fd;
    protocol::transport_address local;
    bool dont_fragment;
    std::chrono::steady_clock::time_point since;
  };
  static constexpr std::size_t max_spares = 64;
  static constexpr std::chrono::seconds spare_lifetime{2};
  static constexpr unsigned min_range_for_spares = 4096;
  rlim_t descriptor_limit_ = RLIM_INFINITY;  // RLIMIT_NOFILE's soft limit at start
  // A spare of this family and DF setting, emptied of queued datagrams; -1 when there is
  // none.
  int take_spare(protocol::address_family family, bool dont_fragment,
                 protocol::transport_address& local) noexcept;
  // A relay address of `family`, a random one of several (each relay port is probed on one
  // of them, so every address's ports get used); nullptr when there is none.
  const protocol::transport_address* relay_ip(protocol::address_family family) noexcept;
  // Whether `fd`, just freed or in use, may be kept or joined by a descriptor the shard could
  // do without (a spare, a relay's connected socket): not while descriptors ran short lately,
  // nor for one in the upper half of RLIMIT_NOFILE (the kernel hands out the lowest free
  // number, so that many are open).
  bool may_hold_more(int fd) const noexcept;
  // Keeps `r`'s socket as a spare if there is room; false: the caller closes it.
  bool keep_spare(relay_socket& r) noexcept;
  // Closes spares older than spare_lifetime (all of them with `all`).
  void expire_spares(bool all = false) noexcept;
  void arm_spare_timer();

  unsigned index_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  relay_setup relay_setup_;
  std::optional<engine::store_link> stores_;  // answers enter the engine as inputs
  std::optional<engine::engine> engine_;
  boost::asio::steady_timer timer_;
  engine::clock::time_point armed_ = engine::clock::time_point::max();
  boost::asio::posix::stream_descriptor poll_;
  std::vector<std::uint64_t> again_;     // sockets left with data queued by their drain's bound
  std::vector<std::uint64_t> draining_;  // again_'s previous contents, being drained
  bool again_posted_ = false;
  static constexpr unsigned max_poll_rounds = 16;     // per wake-up, before Asio's loop again
  static constexpr unsigned repoll_probe_every = 16;  // wake-ups per try while rounds miss
  bool repoll_hits_ = false;                          // the last extra round found datagrams
  unsigned repoll_probe_ = 0;                         // wake-ups counted while they did not
  std::vector<std::unique_ptr<udp_socket>> udp_;
  std::vector<std::unique_ptr<tcp_listener>> tcp_;
  std::unordered_map<engine::five_tuple, stream_connection*, engine::five_tuple_hash> connections_;
  std::unordered_map<engine::relay_id, std::shared_ptr<relay_socket>> relays_;
  std::unordered_map<engine::relay_id,
                     std::pair<protocol::transport_address, std::shared_ptr<tcp_relay_listener>>>
      tcp_relays_;
  std::unordered_map<engine::relay_id, mux_relay> mux_relays_;
  std::vector<spare_relay> spares_;  // oldest first
  boost::asio::steady_timer spare_timer_;
  bool spare_timer_armed_ = false;
  std::unordered_map<protocol::transport_address, engine::relay_id, transport_address_hash>
      mux_ids_;
  std::array<int, 2> mux_in_{-1, -1};   // receive sockets: [0] IPv4, [1] IPv6
  std::array<int, 2> mux_out_{-1, -1};  // raw IPPROTO_RAW send sockets
  std::uint64_t mux_dropped_ = 0;       // datagrams to a relayed address no longer held
  // shard-packing: the first relay of each UDP client's allocation, and the client pinned
  // with it.
  std::unordered_map<engine::relay_id, engine::five_tuple> pinned_;
  engine::relay_id next_relay_ = 1;
  std::minstd_rand rng_;
  std::uint64_t send_failures_ = 0;
  handling_histogram handling_;
  std::unique_ptr<receive_batch> receive_ = std::make_unique<receive_batch>();
  std::unique_ptr<send_batch> send_ = std::make_unique<send_batch>();
  int batching_ = 0;
  std::uint64_t stream_timeouts_ = 0;
  std::uint64_t streams_refused_ = 0;
  stream_limits limits_;
  // Open stream connections per client IP (port zeroed), for limits_.per_ip.
  std::unordered_map<protocol::transport_address, unsigned, address_hash> per_ip_;
  std::thread thread_;
};

}  // namespace turnpike::server::net
