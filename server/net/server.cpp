// SPDX-License-Identifier: Apache-2.0
// Shard creation and listener binding.
#include "server/net/server.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include "protocol/channel_data.hpp"
#include "server/net/tls_context.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>
#include <thread>

namespace turnpike::server::net {
server::server(const config::server_config& cfg)
    : cfg_(cfg), quota_(cfg.user_quota, cfg.total_quota) {
  plan_ = make_listen_plan(cfg_,
                           cfg_.listening_ips.empty() ? interface_addresses() : cfg_.listening_ips);
  realm_ = cfg_.realm;
  if (realm_.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    realm_ = cfg_.server_name.empty() ? std::string(host) : cfg_.server_name;
  }
  if (!cfg_.stun_only && !cfg_.no_auth) {
    std::vector<auth::key_source*> sources;
    if (cfg_.use_auth_secret) {
      rest_ = std::make_unique<auth::rest_secrets>(cfg_.static_auth_secrets, realm_,
                                                   cfg_.rest_api_separator);
      sources.push_back(rest_.get());
    }
    if (!cfg_.users.empty()) {
      std::vector<auth::static_user> users;
      for (const auto& u : cfg_.users) users.push_back({u.name, u.password, u.key});
      try {
        users_ = std::make_unique<auth::static_users>(users, realm_);
      } catch (const std::invalid_argument& e) {
        throw config::config_error(std::string("user: ") + e.what());
      }
      sources.push_back(users_.get());
    }
    if (sources.empty() && !cfg_.redis_userdb && !cfg_.sql_userdb) {
      spdlog::warn(
          "no users, no static-auth-secret and no user database: every TURN request will be "
          "refused (set no-auth for anonymous relaying)");
    }
    key_sources_ = sources;
    keys_ = std::make_unique<auth::key_chain>(std::move(sources));
  }
  // Stateless nonces: a fleet that shares nonce-secret accepts each other's nonces.
  if (!cfg_.nonce_secret.empty()) {
    SHA256(reinterpret_cast<const unsigned char*>(cfg_.nonce_secret.data()),
           cfg_.nonce_secret.size(), nonce_secret_.data());
  } else {
    RAND_bytes(nonce_secret_.data(), static_cast<int>(nonce_secret_.size()));
  }
  if (cfg_.tls_enabled()) tls_ = make_tls_context(cfg_);
  if (cfg_.dtls_enabled() && cfg_.udp) dtls_ = make_dtls_context(cfg_);
  unsigned n = cfg_.relay_threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) shards_.push_back(std::make_unique<shard>(i));
  // Before make_statsdb and Redis, which start threads; the kernel relay and packing first,
  // while relay-mux's capabilities are still held.
  if (cfg_.kernel_relay) set_up_kernel_relay();
  if (cfg_.shard_packing != 0) set_up_shard_packing();
  if (cfg_.relay_mux) set_up_relay_mux();
  // relay-mux's drop (in set_up_relay_mux) covers the others' capabilities, and shard
  // packing's the kernel relay's.
  if (packing_ && !mux_) spdlog::info("shard-packing: {}", packing_->drop_capabilities());
  if (kernel_ && !packing_ && !mux_) {
    spdlog::info("kernel-relay: {}", kernel_->drop_capabilities());
  }
  make_statsdb();
  if (cfg_.sql_userdb && !cfg_.stun_only && !cfg_.no_auth) set_up_sql_userdb();
  if (cfg_.redis_userdb && !cfg_.stun_only && !cfg_.no_auth) {
    redis_ = std::make_unique<auth::redis_client>(*cfg_.redis_userdb, 4096, std::chrono::seconds(1),
                                                  redis_observer("userdb"));
    auth::cached_users_options o;
    o.rest = cfg_.use_auth_secret;
    o.rest_separator = cfg_.rest_api_separator;
    o.cache_ttl = std::chrono::seconds(cfg_.redis_cache_ttl);
    redis_store_ = std::make_unique<auth::redis_user_store>(*redis_);
    redis_users_ = std::make_unique<auth::cached_users>(*redis_store_, o);
    redis_quota_ = std::make_unique<auth::redis_quota>(*redis_, cfg_.user_quota, cfg_.total_quota,
                                                       std::chrono::seconds(cfg_.redis_lease_ttl));
    chain_per_shard(*redis_users_, shard_redis_);
    for (auto& s : shards_) {
      boost::asio::io_context* io = &s->io();
      auto post = [io](std::function<void()> f) { boost::asio::post(*io, std::move(f)); };
      shard_quotas_.push_back(
          std::make_unique<auth::posting_quota>(*redis_quota_, s->index(), post));
    }
    realm_watch_ = std::make_unique<auth::redis_realm_watch>(
        *redis_, realm_, std::chrono::seconds(std::max(1u, cfg_.redis_cache_ttl)),
        [this](const auth::realm_options& opts) { apply_realm_options(opts, "redis-userdb"); });
  }
}

void server::set_up_sql_userdb() {
  const auto& db = *cfg_.sql_userdb;
  const std::string where = auth::describe_sql_target(db.kind, db.target);
  auto connection = db.kind == auth::sql_kind::sqlite
                        ? auth::make_sqlite_connection(db.target, /*read_only=*/true)
                        : auth::make_postgres_connection(db.target);
  sql_store_ = std::make_unique<auth::sql_user_store>(std::move(connection));
  std::string error;
  if (!sql_store_->check(error)) {
    // A SQLite file that cannot be opened is a mistake in the configuration; a PostgreSQL
    // server may just not be up yet (lookups fail until it is, then recover).
    if (db.kind == auth::sql_kind::sqlite) {
      throw config::config_error("userdb: cannot open the SQLite database: " + error);
    }
    spdlog::warn("user database {} not reachable yet ({}): users it holds get 500 until it is",
                 where, error);
  } else {
    spdlog::info("user database: {}", where);
  }
  auth::cached_users_options o;
  o.rest = cfg_.use_auth_secret;
  o.rest_separator = cfg_.rest_api_separator;
  o.cache_ttl = std::chrono::seconds(cfg_.redis_cache_ttl);
  sql_users_ = std::make_unique<auth::cached_users>(*sql_store_, o);
  sql_realm_watch_ = std::make_unique<auth::sql_realm_watch>(
      db.kind == auth::sql_kind::sqlite
          ? auth::make_sqlite_connection(db.target, /*read_only=*/true)
          : auth::make_postgres_connection(db.target),
      realm_, std::chrono::seconds(std::max(1u, cfg_.redis_cache_ttl)),
      [this](const auth::realm_options& opts) { apply_realm_options(opts, "the user database"); });
  chain_per_shard(*sql_users_, shard_sql_);
}

void server::chain_per_shard(auth::cached_users& users,
                             std::vector<std::unique_ptr<auth::cached_key_source>>& per_shard) {
  for (auto& s : shards_) {
    boost::asio::io_context* io = &s->io();
    auto post = [io](std::function<void()> f) { boost::asio::post(*io, std::move(f)); };
    per_shard.push_back(std::make_unique<auth::cached_key_source>(users, post));
    auto sources = key_sources_;
    sources.push_back(per_shard.back().get());
    shard_keys_.push_back(std::make_unique<auth::key_chain>(std::move(sources)));
  }
}

void server::apply_realm_options(const auth::realm_options& opts, const char* from) {
  for (const auto& bad : opts.rejected) {
    spdlog::warn("realm {} in {}: ignoring {}", realm_, from, bad);
  }
  auto shown = [](const auto& v) { return v ? std::to_string(*v) : std::string("(config)"); };
  spdlog::info("realm {} options from {}: max-bps={} allowed-peer-ip={} denied-peer-ip={}", realm_,
               from, shown(opts.max_bps), opts.allowed.size(), opts.denied.size());
  if (opts.user_quota || opts.total_quota) {
    spdlog::info("realm {} quotas from {}: user-quota={} total-quota={}", realm_, from,
                 shown(opts.user_quota), shown(opts.total_quota));
  }
  if (!redis_quota_) {
    quota_.set_limits(opts.user_quota.value_or(cfg_.user_quota),
                      opts.total_quota.value_or(cfg_.total_quota));
  }
  for (auto& s : shards_) s->apply_realm_options(opts);
}

std::optional<auth::redis_client_stats> server::statsdb_stats() const {
  if (!statsdb_) return std::nullopt;
  return statsdb_->stats();
}

std::optional<auth::redis_quota_stats> server::redis_quota_stats() const {
  if (!redis_quota_) return std::nullopt;
  return redis_quota_->stats();
}

auth::redis_client::round_trip_observer server::redis_observer(const std::string& db) {
  auto& rtt = prometheus::BuildHistogram()
                  .Name("turnpike_redis_round_trip_seconds")
                  .Help("Redis round trips (one pipelined batch of commands), by database.")
                  .Register(*registry_)
                  .Add({{"db", db}}, prometheus::Histogram::BucketBoundaries{
                                         0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05, 0.1, 0.25, 0.5, 1});
  auto& errors = prometheus::BuildCounter()
                     .Name("turnpike_redis_errors_total")
                     .Help("Redis round trips that failed (I/O error or timeout), by database.")
                     .Register(*registry_)
                     .Add({{"db", db}});
  return [&rtt, &errors](double seconds, bool ok) {
    rtt.Observe(seconds);
    if (!ok) errors.Increment();
  };
}

void server::make_statsdb() {
  if (!cfg_.redis_statsdb || cfg_.stun_only) return;
  statsdb_ = std::make_unique<auth::redis_client>(
      *cfg_.redis_statsdb, 4096, std::chrono::seconds(1), redis_observer("statsdb"));
  std::uint32_t tag = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&tag), sizeof tag);
  for (auto& s : shards_) {
    shard_reporters_.push_back(std::make_unique<statsdb_reporter>(*statsdb_, tag, s->index()));
  }
}

std::optional<auth::cached_users_stats> server::redis_user_stats() const {
  if (!redis_users_) return std::nullopt;
  return redis_users_->stats();
}

server::~server() {
  stop();
  join();
  // The Redis thread first: its last callbacks use the user cache and post to the shards'
  // (stopped) io_contexts, so both must still exist.
  // Polling and renewals stop first; the client's last callbacks still find the watcher, the
  // quota and the user cache alive, and post to the shards' (stopped) io_contexts.
  if (realm_watch_) realm_watch_->stop();
  if (redis_quota_) redis_quota_->stop();
  sql_realm_watch_.reset();
  sql_store_.reset();  // its thread's last answers still find the cache and the shards
  redis_.reset();
  statsdb_.reset();  // sends what the shards reported on their way down
}

engine::engine_settings server::engine_settings_for() {
  engine::engine_settings s;
  s.answer_binding = !cfg_.no_stun;
  s.fingerprint_always = cfg_.fingerprint;
  s.backward_compatibility = cfg_.stun_backward_compatibility;
  s.include_reason = cfg_.include_reason_string;
  if (cfg_.software_attribute) s.software = "Turnpike " TURNPIKE_VERSION;
  s.log_binding = cfg_.log_binding;
  s.rfc5780 = plan_.rfc5780;
  s.random = [](std::span<std::uint8_t> out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
      throw std::runtime_error("RAND_bytes failed");  // never expected: the engine stops here
    }
  };
  if (cfg_.stun_only) return s;

  engine::turn_settings t;
  t.realm = realm_;
  t.long_term_credentials = keys_ != nullptr;
  // With an SQL user database the realm's quotas may come from it later: counted always.
  t.quota = cfg_.user_quota != 0 || cfg_.total_quota != 0 || sql_store_ || redis_quota_;
  t.nonce.emplace(nonce_secret_, std::chrono::seconds(cfg_.stale_nonce),
                  protocol::security_feature::password_algorithms);
  t.default_lifetime =
      std::min(std::chrono::seconds(600), std::chrono::seconds(cfg_.max_allocate_lifetime));
  t.max_lifetime = std::chrono::seconds(cfg_.max_allocate_lifetime);
  t.permission_lifetime = std::chrono::seconds(cfg_.permission_lifetime);
  t.unauthenticated_per_second = cfg_.unauthenticated_per_ip;
  t.unauthenticated_per_second_proven = cfg_.unauthenticated_per_proven_ip;
  t.failed_auth_per_user = cfg_.failed_auth_per_user;
  t.channel_lifetime = std::chrono::seconds(cfg_.channel_lifetime);
  t.channel_max =
      cfg_.rfc5766_channel_numbers ? protocol::channel_max_rfc5766 : protocol::channel_max_rfc8656;
  t.max_bps = cfg_.max_bps;
  t.udp_relay = !cfg_.no_udp_relay;
  t.tcp_relay = !cfg_.no_tcp_relay;
  switch (cfg_.allocation_default_family) {
    case config::server_config::default_family::ipv4:
      t.default_family = protocol::address_family::ipv4;
      break;
    case config::server_config::default_family::ipv6:
      t.default_family = protocol::address_family::ipv6;
      break;
    case config::server_config::default_family::keep:
      t.default_family.reset();
      break;
  }
  if (cfg_.bps_capacity != 0) {
    t.capacity_bps = std::max<std::uint64_t>(1, cfg_.bps_capacity / shards_.size());
  }
  // coturn's choice of redirect list for each client transport.
  auto first_set = [](std::initializer_list<const std::vector<protocol::transport_address>*> l) {
    for (const auto* v : l) {
      if (!v->empty()) return *v;
    }
    return std::vector<protocol::transport_address>{};
  };
  using engine::transport;
  t.alternate_servers[static_cast<std::size_t>(transport::udp)] =
      first_set({&cfg_.udp_alternate_servers, &cfg_.alternate_servers});
  t.alternate_servers[static_cast<std::size_t>(transport::tcp)] =
      first_set({&cfg_.tcp_alternate_servers, &cfg_.alternate_servers});
  t.alternate_servers[static_cast<std::size_t>(transport::tls)] =
      first_set({&cfg_.tls_alternate_servers, &cfg_.alternate_servers});
  t.alternate_servers[static_cast<std::size_t>(transport::dtls)] = first_set(
      {&cfg_.udp_alternate_servers, &cfg_.tls_alternate_servers, &cfg_.alternate_servers});
  for (const auto& [pub, priv] : cfg_.external_ips) {
    for (const auto& r : relay_ips()) {
      if (r.family == pub.family && (!priv || priv->ip == r.ip))
        t.external_ips.emplace_back(r, pub);
    }
  }
  auto& peers = t.peers;
  peers.allow_loopback = cfg_.allow_loopback_peers;
  peers.allowed = cfg_.allowed_peer_ips;
  peers.denied = cfg_.denied_peer_ips;
  for (const auto& l : listeners_) peers.listening.push_back(l.address);
  // The server's other services are never peers either: the metrics endpoint (on every own
  // IP when it listens on a wildcard address) and the Redis databases it talks to.
  auto never = [&](const protocol::transport_address& a) {
    if (!a.is_unspecified()) {
      peers.listening.push_back(a);
      return;
    }
    auto ips = plan_.ips;
    ips.push_back(*protocol::transport_address::parse_ip("127.0.0.1"));
    ips.push_back(*protocol::transport_address::parse_ip("::1"));
    for (auto ip : ips) {
      ip.port = a.port;
      peers.listening.push_back(ip);
    }
  };
  if (cfg_.prometheus && cfg_.prometheus_address.port != 0) never(cfg_.prometheus_address);
  for (const auto* db : {&cfg_.redis_userdb, &cfg_.redis_statsdb}) {
    if (!*db) continue;
    if (auto ip = protocol::transport_address::parse_ip((*db)->host, (*db)->port)) never(*ip);
  }
  peers.own_ips = plan_.ips;
  peers.own_ips.insert(peers.own_ips.end(), relay_ips().begin(), relay_ips().end());
  for (const auto& [pub, priv] : cfg_.external_ips) peers.own_ips.push_back(pub);
  peers.relay_min_port = cfg_.min_port;
  peers.relay_max_port = cfg_.max_port;
  s.turn = std::move(t);
  return s;
}

void server::open() {
  // Binds `want` on every shard; an OS-chosen port, once chosen, is reused by the others.
  auto bind_all = [&](engine::transport proto, protocol::transport_address want, bool alternate) {
    for (auto& s : shards_) {
      try {
        want = engine::is_stream(proto) ? s->open_tcp(want, tls_) : s->open_udp(want, dtls_);
      } catch (const boost::system::system_error& e) {
        throw boost::system::system_error(
            e.code(), std::string(engine::transport_name(proto)) + " " + want.to_string());
      }
    }
    listeners_.push_back({proto, want, alternate});
    return want.port;
  };
  std::vector<std::uint16_t> ports{plan_.port};
  if (plan_.rfc5780) ports.push_back(plan_.alt_port);
  for (const auto& ip : plan_.ips) {
    for (std::uint16_t port : ports) {
      protocol::transport_address want = ip;
      want.port = port;
      // listening-port=0: one OS-chosen port for UDP and TCP alike.
      if (port == 0 && cfg_.udp && cfg_.tcp) want.port = free_udp_and_tcp_port(ip);
      if (cfg_.udp) want.port = bind_all(engine::transport::udp, want, port != plan_.port);
      if (cfg_.tcp) bind_all(engine::transport::tcp, want, port != plan_.port);
    }
    // TURN over TLS on its own port (plain TCP is told apart there too, and TLS on the
    // plain port, by the first byte).
    std::uint16_t tls_port = cfg_.tls_listening_port;
    if (tls_port == 0 && tls_ && dtls_) tls_port = free_udp_and_tcp_port(ip);
    if (tls_) {
      protocol::transport_address want = ip;
      want.port = tls_port;
      tls_port = bind_all(engine::transport::tls, want, false);
    }
    // And DTLS on the same port over UDP (plain STUN is told apart there too); with
    // tls-listening-port=0, the port the OS gave TLS when it is free for UDP too.
    if (dtls_) {
      protocol::transport_address want = ip;
      want.port = tls_port;
      try {
        bind_all(engine::transport::dtls, want, false);
      } catch (const boost::system::system_error&) {
        if (cfg_.tls_listening_port != 0) throw;
        want.port = 0;
        bind_all(engine::transport::dtls, want, false);
      }
    }
  }
}

void server::set_up_shard_packing() {
  if (dtls_) {
    throw config::config_error(
        "shard-packing does not pin DTLS sessions: set no-dtls (or no cert/pkey) to use it");
  }
  try {
    // Room to pin as many clients as total-quota allows allocations; a million without one.
    const std::uint32_t most =
        cfg_.total_quota != 0
            ? static_cast<std::uint32_t>(std::min<std::uint64_t>(cfg_.total_quota, 1'000'000))
            : 1'000'000;
    packing_ = std::make_unique<shard_packing>(static_cast<unsigned>(shards_.size()),
                                               cfg_.shard_packing, most);
  } catch (const std::runtime_error& e) {
    throw config::config_error(e.what());
  }
  spdlog::info(
      "shard-packing: new UDP clients go to as few shards as the load needs, one per {} "
      "datagrams/s",
      cfg_.shard_packing);
}

void server::set_up_kernel_relay() {
  // Interfaces that carry listening and relay addresses: client datagrams come in on the
  // first, peers' on the second.
  auto ips = plan_.ips;
  const auto relays = relay_ips_in_use();
  ips.insert(ips.end(), relays.begin(), relays.end());
  try {
    kernel_relays::limits l;
    using hook = config::server_config::kernel_hook;
    switch (cfg_.kernel_relay_mode) {
      case hook::xdp_any:
        l.hook = kernel_hook::any;
        break;
      case hook::xdp_native:
        l.hook = kernel_hook::xdp_native;
        break;
      case hook::xdp_generic:
        l.hook = kernel_hook::xdp_generic;
        break;
      case hook::tc:
        l.hook = kernel_hook::tc;
        break;
    }
    if (cfg_.total_quota != 0) {
      l.allocations =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(cfg_.total_quota, 1u << 20));
    }
    kernel_ = std::make_unique<kernel_relays>(l);
    const auto where = kernel_->attach_for(ips);
    spdlog::info("kernel-relay: bound channels of UDP clients relayed in the kernel on {}", where);
  } catch (const std::runtime_error& e) {
    throw config::config_error(e.what());
  }
}

void server::set_up_relay_mux() {
  const auto& ips = relay_ips();
  if (auto why = relay_mux_unsupported(ips, cfg_.min_port, cfg_.max_port)) {
    throw config::config_error(*why);
  }
  // The listeners' configured ports stay out of the pool on every relay address (the program
  // would take them from a listener on that address or on a wildcard). Ports the OS chooses
  // (0 here) come from the ephemeral range, which relay_mux_unsupported keeps apart.
  std::vector<std::uint16_t> listener_ports{plan_.port};
  if (plan_.rfc5780) listener_ports.push_back(plan_.alt_port);
  if (tls_ || dtls_) listener_ports.push_back(cfg_.tls_listening_port);
  try {
    mux_ = std::make_unique<relay_mux>(static_cast<unsigned>(shards_.size()), ips, cfg_.min_port,
                                       cfg_.max_port, listener_ports);
  } catch (const std::runtime_error& e) {
    throw config::config_error(e.what());
  }
  for (auto& s : shards_) s->open_mux_sockets(ips, *mux_);
  spdlog::info(
      "relay-mux: UDP relays of {} relay address(es) share one receive and one raw send socket "
      "per shard and family; {} relayed ports",
      ips.size(), mux_->ports_free());
  spdlog::info("relay-mux: {}", mux_->drop_capabilities());
}

void server::start() {
  const auto settings = engine_settings_for();
  relay_setup relays;
  relays.ips = relay_ips_in_use();
  relays.min_port = cfg_.min_port;
  relays.max_port = cfg_.max_port;
  relays.reservations = &reservations_;
  relays.tcp_connections = cfg_.no_tcp_relay ? nullptr : &tcp_connections_;
  relays.mux = mux_.get();
  relays.packing = packing_.get();
  relays.kernel = kernel_.get();
  stream_limits limits;
  limits.frame_timeout = std::chrono::seconds(cfg_.stream_frame_timeout);
  limits.idle_timeout = std::chrono::seconds(cfg_.stream_idle_timeout);
  // The kernel spreads one IP's connections over the shards by port hash: each shard takes
  // its share of the limit, rounded up.
  const auto n = static_cast<unsigned>(shards_.size());
  limits.per_ip = cfg_.max_connections_per_ip == 0 ? 0 : (cfg_.max_connections_per_ip + n - 1) / n;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    auto own = settings;
    engine_stores stores;
    stores.keys = shard_keys_.empty() ? keys_.get() : shard_keys_[i].get();
    stores.quota = shard_quotas_.empty() ? static_cast<auth::allocation_quota*>(&quota_)
                                         : shard_quotas_[i].get();
    if (own.turn && !shard_reporters_.empty()) own.turn->observer = shard_reporters_[i].get();
    shards_[i]->init_engine(std::move(own), stores, relays, limits);
  }
  for (auto& s : shards_) s->start();
  if (packing_) packing_->start();
}

std::optional<std::string> server::reload_tls() {
  if (!tls_ && !dtls_) return std::string("TLS and DTLS are not configured");
  std::shared_ptr<boost::asio::ssl::context> tls, dtls;
  try {
    if (tls_) tls = make_tls_context(cfg_);
    if (dtls_) dtls = make_dtls_context(cfg_);
  } catch (const config::config_error& e) {
    return std::string(e.what());
  }
  tls_ = tls ? tls : tls_;
  dtls_ = dtls ? dtls : dtls_;
  for (auto& s : shards_) s->reload_tls(tls, dtls);
  return std::nullopt;
}

void server::drain() {
  for (auto& s : shards_) s->drain(cfg_.drain_alternate);
}

void server::stop() {
  for (auto& s : shards_) s->stop();
}

void server::join() {
  for (auto& s : shards_) s->join();
}

engine::engine_counters server::totals() const noexcept {
  engine::engine_counters t;
  for (const auto& s : shards_) t += s->counters();
  return t;
}

std::uint64_t server::stream_timeouts() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->stream_timeouts();
  return n;
}

std::uint64_t server::streams_refused() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->streams_refused();
  return n;
}

server::snapshot_result server::snapshot(std::chrono::milliseconds limit) const {
  std::vector<std::future<shard_snapshot>> asked;
  for (const auto& s : shards_) asked.push_back(s->snapshot());
  snapshot_result r;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  r.shards.resize(asked.size());
  for (std::size_t i = 0; i < asked.size(); ++i) {
    if (asked[i].wait_until(deadline) != std::future_status::ready) continue;
    r.shards[i] = asked[i].get();
    r.total += *r.shards[i];
    ++r.answered;
  }
  return r;
}

std::optional<kernel_outcomes> server::kernel_relay_outcomes() const {
  if (!kernel_) return std::nullopt;
  return kernel_->outcomes();
}

server::sessions_result server::sessions(const engine::session_filter& filter,
                                         std::chrono::milliseconds limit) const {
  std::vector<std::future<std::vector<engine::session_info>>> asked;
  for (const auto& s : shards_) asked.push_back(s->sessions(filter));
  const auto deadline = std::chrono::steady_clock::now() + limit;
  sessions_result r;
  for (std::size_t i = 0; i < asked.size(); ++i) {
    if (asked[i].wait_until(deadline) != std::future_status::ready) {
      r.complete = false;
      continue;
    }
    for (auto& info : asked[i].get()) r.rows.push_back({i, std::move(info)});
  }
  return r;
}

server::ended_result server::end_sessions(const engine::session_filter& filter,
                                          std::optional<std::size_t> only_shard,
                                          std::chrono::milliseconds limit) const {
  std::vector<std::future<std::size_t>> asked;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (!only_shard || *only_shard == i) asked.push_back(shards_[i]->end_sessions(filter));
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  ended_result r;
  for (auto& a : asked) {
    if (a.wait_until(deadline) != std::future_status::ready) {
      r.complete = false;
      continue;
    }
    r.ended += a.get();
  }
  return r;
}

std::vector<protocol::transport_address> server::relay_ips_in_use() const {
  if (!cfg_.relay_ips.empty() || cfg_.relay_mux) return relay_ips();
  std::vector<protocol::transport_address> first;
  for (const auto& ip : relay_ips()) {
    if (std::none_of(first.begin(), first.end(),
                     [&](const auto& f) { return f.family == ip.family; })) {
      first.push_back(ip);
    }
  }
  return first;
}

std::uint64_t server::relay_port_capacity() const {
  return static_cast<std::uint64_t>(cfg_.max_port - cfg_.min_port + 1) * relay_ips_in_use().size();
}

dtls_counters server::dtls_totals() const noexcept {
  dtls_counters c;
  for (const auto& s : shards_) c += s->dtls_totals();
  return c;
}

std::uint64_t server::send_failures() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->send_failures();
  return n;
}

std::vector<std::string> ice_urls(
    const std::vector<bound_listener>& listeners, bool turn,
    const std::vector<std::pair<protocol::transport_address,
                                std::optional<protocol::transport_address>>>& external_ips) {
  // Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) on "literal" + string.
  auto has = [&](engine::transport proto, const protocol::transport_address& a) {
    return std::any_of(listeners.begin(), listeners.end(),
                       [&](const bound_listener& l) { return l.proto == proto && l.address == a; });
  };
  auto public_name = [&](const protocol::transport_address& a) {
    for (const auto& [pub, priv] : external_ips) {
      if (pub.family != a.family) continue;
      if (!priv || priv->ip_string() == a.ip_string()) {
        auto named = pub;
        named.port = a.port;
        return named.to_string();
      }
    }
    return a.to_string();
  };
  std::vector<std::string> urls;
  auto add = [&](std::string url) {
    if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(std::move(url));
  };
  for (const auto& l : listeners) {
    // Browsers do not speak TURN over DTLS; the UDP port it shares already gets stun:.
    if (l.alternate || l.proto == engine::transport::dtls) continue;
    const std::string where = public_name(l.address);
    if (l.proto == engine::transport::udp) {
      add(std::string("stun:").append(where));
      if (turn) add(std::string("turn:").append(where).append("?transport=udp"));
    } else if (turn && l.proto == engine::transport::tcp) {
      add(std::string("turn:").append(where).append("?transport=tcp"));
    } else if (turn && l.proto == engine::transport::tls) {
      add(std::string("turns:").append(where).append("?transport=tcp"));
    } else if (!has(engine::transport::udp, l.address)) {
      add(std::string("stun:").append(where));
    }
  }
  return urls;
}

std::string ice_servers_json(const std::vector<bound_listener>& listeners, bool turn,
                             const std::string& username, const std::string& credential) {
  const auto urls = ice_urls(listeners, turn);
  std::string json = "{\"iceServers\":[{\"urls\":[";
  for (std::size_t i = 0; i < urls.size(); ++i) {
    if (i > 0) json += ',';
    json.append("\"").append(urls[i]).append("\"");
  }
  json += ']';
  if (!username.empty()) {
    json.append(",\"username\":\"").append(username);
    json.append("\",\"credential\":\"").append(credential).append("\"");
  }
  json += "}]}";
  return json;
}

}  // namespace turnpike::server::net
