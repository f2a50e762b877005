// SPDX-License-Identifier: Apache-2.0
// The whole server: builds the listen plan, creates the shards, binds every listener on every
// shard (SO_REUSEPORT lets the kernel spread clients over them), sets up the shared pieces
// (credentials, quotas, relay port reservations) and each shard's engine, runs and stops them.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/quota.hpp"
#include "auth/redis_client.hpp"
#include "auth/redis_quota.hpp"
#include "auth/redis_realm.hpp"
#include "auth/redis_users.hpp"
#include "auth/rest_secrets.hpp"
#include "auth/sql_realm.hpp"
#include "auth/sql_users.hpp"
#include "auth/static_users.hpp"
#include "server/config/config.hpp"
#include "server/net/listen_plan.hpp"
#include "server/net/relays/kernel_relays.hpp"
#include "server/net/relays/relay_mux.hpp"
#include "server/net/relays/relay_ports.hpp"
#include "server/net/shard.hpp"
#include "server/net/shard_packing.hpp"
#include "server/net/statsdb.hpp"

namespace turnpike::server::net {

struct bound_listener {
  engine::transport proto = engine::transport::udp;
  protocol::transport_address address;
  bool alternate = false;  // RFC 5780 alternate port
};

class server {
 public:
  // Throws config::config_error for credentials that cannot be prepared.
  explicit server(const config::server_config& cfg);
  ~server();

  // Binds all listeners and sets up the engines. Throws boost::system::system_error naming
  // the address on failure.
  void open();
  void start();
  void stop();  // thread-safe
  // Thread-safe: refuse new allocations from now on (drain-alternate-server, if set, is
  // offered with 300); existing allocations keep relaying.
  void drain();
  // Reads cert and pkey again (SIGUSR2). On failure the old certificate stays in use and the
  // reason is returned.
  std::optional<std::string> reload_tls();
  void join();

  const std::vector<bound_listener>& listeners() const noexcept { return listeners_; }
  const listen_plan& plan() const noexcept { return plan_; }
  std::size_t shard_count() const noexcept { return shards_.size(); }
  bool relaying() const noexcept { return !cfg_.stun_only; }
  const std::string& realm() const noexcept { return realm_; }
  // After join().
  engine::engine_counters totals() const noexcept;
  std::uint64_t send_failures() const noexcept;
  std::uint64_t stream_timeouts() const noexcept;
  std::uint64_t streams_refused() const noexcept;
  dtls_counters dtls_totals() const noexcept;
  // Thread-safe, while running: every shard's snapshot, summed; `answered` shards replied
  // within `limit`, and `shards` holds each one's own (nullopt: it did not answer).
  struct snapshot_result {
    shard_snapshot total;
    std::size_t answered = 0;
    std::vector<std::optional<shard_snapshot>> shards;
  };
  snapshot_result snapshot(std::chrono::milliseconds limit) const;
  // kernel-relay: what the XDP program did with the datagrams it saw; nullopt when off.
  std::optional<kernel_outcomes> kernel_relay_outcomes() const;
  // Thread-safe, while running: the sessions API over every shard (`only_shard`: one). A
  // shard that does not answer within `limit` is left out (`complete` false).
  struct session_row {
    std::size_t shard = 0;
    engine::session_info info;
  };
  struct sessions_result {
    std::vector<session_row> rows;
    bool complete = true;
  };
  sessions_result sessions(const engine::session_filter& filter,
                           std::chrono::milliseconds limit) const;
  struct ended_result {
    std::size_t ended = 0;
    bool complete = true;
  };
  ended_result end_sessions(const engine::session_filter& filter,
                            std::optional<std::size_t> only_shard,
                            std::chrono::milliseconds limit) const;
  const config::server_config& config() const noexcept { return cfg_; }
  // Metrics kept outside the shards (Redis round trips), thread-safe.
  const std::shared_ptr<prometheus::Registry>& registry() const noexcept { return registry_; }
  std::uint64_t relay_port_capacity() const;
  // With redis-userdb (null otherwise); thread-safe.
  const auth::redis_client* redis() const noexcept { return redis_.get(); }
  std::optional<auth::cached_users_stats> redis_user_stats() const;
  std::optional<auth::redis_quota_stats> redis_quota_stats() const;
  std::optional<auth::redis_client_stats> statsdb_stats() const;

 private:
  engine::engine_settings engine_settings_for();
  void make_statsdb();
  // userdb / psql-userdb: the store's thread, its cache, and one key source per shard.
  void set_up_sql_userdb();
  // A user database's cache asked by each shard through a key source of its own (answers
  // posted back to that shard), last in the shard's key chain.
  void chain_per_shard(auth::cached_users& users,
                       std::vector<std::unique_ptr<auth::cached_key_source>>& per_shard);
  // A realm's options read from a user database: logged and handed to every shard.
  void apply_realm_options(const auth::realm_options& opts, const char* from);
  // relay-mux: loads the program, opens the shards' sockets, then drops the capabilities those
  // steps needed (while the process has one thread: capabilities are per thread).
  void set_up_relay_mux();
  void set_up_kernel_relay();
  void set_up_shard_packing();
  // relay-ip, or the listening IPs when none is set.
  const std::vector<protocol::transport_address>& relay_ips() const noexcept {
    return cfg_.relay_ips.empty() ? plan_.ips : cfg_.relay_ips;
  }
  // The relay addresses allocations get: every one of relay_ips() with relay-ip or relay-mux;
  // otherwise the first listening address of each family (interface addresses may include
  // ones peers cannot reach).
  std::vector<protocol::transport_address> relay_ips_in_use() const;

  // The Redis round-trip histogram observer for a client (`db`: userdb or statsdb).
  auth::redis_client::round_trip_observer redis_observer(const std::string& db);

  config::server_config cfg_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  listen_plan plan_;
  std::string realm_;
  std::unique_ptr<auth::static_users> users_;
  std::unique_ptr<auth::rest_secrets> rest_;
  std::unique_ptr<auth::key_chain> keys_;
  // redis-userdb: one client thread and cache for the server; each shard asks through its
  // own key_source (answers posted back to it) at the end of its own key chain.
  std::unique_ptr<auth::redis_client> redis_;
  std::unique_ptr<auth::sql_user_store> sql_store_;
  std::unique_ptr<auth::cached_users> sql_users_;
  std::vector<std::unique_ptr<auth::cached_key_source>> shard_sql_;
  std::unique_ptr<auth::sql_realm_watch> sql_realm_watch_;
  std::unique_ptr<auth::redis_user_store> redis_store_;
  std::unique_ptr<auth::cached_users> redis_users_;
  std::vector<std::unique_ptr<auth::cached_key_source>> shard_redis_;
  std::vector<std::unique_ptr<auth::key_chain>> shard_keys_;
  // And fleet-wide quotas counted in the same Redis, asked through one adapter per shard.
  std::unique_ptr<auth::redis_quota> redis_quota_;
  std::vector<std::unique_ptr<auth::posting_quota>> shard_quotas_;
  // The realm's max-bps and peer IP sets, polled and handed to every shard.
  std::unique_ptr<auth::redis_realm_watch> realm_watch_;
  // redis-statsdb: its own connection, one reporter per shard.
  std::unique_ptr<auth::redis_client> statsdb_;
  std::vector<std::unique_ptr<statsdb_reporter>> shard_reporters_;
  std::vector<auth::key_source*> key_sources_;  // the sources before Redis
  auth::quota quota_;
  relay_reservations reservations_;
  tcp_connection_registry tcp_connections_{tcp_bind_limit};
  std::array<std::uint8_t, 32> nonce_secret_{};
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<boost::asio::ssl::context> dtls_;
  std::unique_ptr<relay_mux> mux_;          // relay-mux; outlives the shards that use it
  std::unique_ptr<shard_packing> packing_;  // shard-packing; outlives the shards too
  std::unique_ptr<kernel_relays> kernel_;   // kernel-relay; outlives the shards too
  std::vector<std::unique_ptr<shard>> shards_;
  std::vector<bound_listener> listeners_;
};

// The stun: URLs of the listeners, and turn:/turns: URLs (UDP, TCP, TLS) when `turn` is set.
// A listener whose IP an external-ip maps (public/private, or public alone) is named by its
// public address. Alternate (RFC 5780) and DTLS-only listeners are left out.
std::vector<std::string> ice_urls(
    const std::vector<bound_listener>& listeners, bool turn,
    const std::vector<std::pair<protocol::transport_address,
                                std::optional<protocol::transport_address>>>& external_ips = {});

// The JSON a WebRTC application puts in RTCPeerConnection's configuration: ice_urls(), and
// the username and credential when given.
std::string ice_servers_json(const std::vector<bound_listener>& listeners, bool turn,
                             const std::string& username, const std::string& credential);

}  // namespace turnpike::server::net
