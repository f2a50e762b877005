// SPDX-License-Identifier: Apache-2.0
// turnpike: read the configuration, set up logging, bind, serve until SIGTERM or SIGINT.
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <unistd.h>
#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>

#include "server/config/command_line.hpp"
#include "server/log/log.hpp"
#include "server/mdns/announcer.hpp"
#include "server/metrics/metrics_server.hpp"
#include "server/net/asio_address.hpp"
#include "server/net/server.hpp"
#include "server/net/tls_context.hpp"
#include "server/process/link_watch.hpp"
#include "server/process/privileges.hpp"
#include "server/process/stop_control.hpp"
#include "server/signaling/signaling_server.hpp"

namespace cfgns = turnpike::server::config;
namespace net = turnpike::server::net;

namespace {

void print_banner(const cfgns::loaded_config& lc, const net::server& srv) {
  spdlog::info("Turnpike {} started: {} shard(s), configuration from {}", TURNPIKE_VERSION,
               srv.shard_count(), lc.source);
  for (const auto& l : srv.listeners()) {
    spdlog::info("listening {} {}{}", turnpike::server::engine::transport_name(l.proto),
                 l.address.to_string(), l.alternate ? " (RFC 5780 alternate port)" : "");
  }
  if (srv.plan().rfc5780) spdlog::info("RFC 5780 NAT behaviour discovery is on");
  std::string user, credential;
  if (lc.embedded_default) {
    user = "demo";
    credential = lc.demo_password;
    spdlog::info("demo realm '{}', user '{}', password '{}'", srv.realm(), user, credential);
  }
  if (srv.relaying()) {
    spdlog::info("TURN relaying on, realm '{}', relay ports {}-{}", srv.realm(), lc.cfg.min_port,
                 lc.cfg.max_port);
  }
  spdlog::info("iceServers: {}",
               net::ice_servers_json(srv.listeners(), srv.relaying(), user, credential));
}

// What `mdns` announces: the RFC 7064/7065 service names for each listening port (STUN,
// and TURN when relaying), and the signaling service as a web page.
std::vector<turnpike::server::mdns::service> mdns_services(
    const net::server& srv, const turnpike::server::signaling::signaling_server* signaling) {
  using turnpike::server::engine::transport;
  std::vector<turnpike::server::mdns::service> out;
  auto add = [&](std::string type, std::uint16_t port, std::vector<std::string> txt) {
    for (const auto& s : out) {
      if (s.type == type && s.port == port) return;
    }
    out.push_back({std::move(type), port, std::move(txt)});
  };
  const std::string realm = "realm=" + srv.realm();
  for (const auto& l : srv.listeners()) {
    if (l.alternate) continue;
    const auto port = l.address.port;
    // By transport (udp, tcp, tls, dtls): the STUN and TURN service names.
    static constexpr std::array<std::pair<const char*, const char*>, 4> names{{
        {"_stun._udp", "_turn._udp"},
        {"_stun._tcp", "_turn._tcp"},
        {"_stuns._tcp", "_turns._tcp"},
        {"_stuns._udp", "_turns._udp"},
    }};
    const auto [stun, turn] = names.at(static_cast<std::size_t>(l.proto));
    add(stun, port, {});
    if (srv.relaying()) add(turn, port, {realm});
  }
  if (signaling != nullptr) {
    add(signaling->tls() ? "_https._tcp" : "_http._tcp", signaling->local().port, {"path=/"});
  }
  return out;
}

// SIGUSR2: read the certificate and key again without dropping anyone.
void reload_certificates(net::server& srv, turnpike::server::signaling::signaling_server* signaling,
                         const cfgns::server_config& cfg) {
  if (auto failed = srv.reload_tls()) {
    spdlog::error("certificate reload failed, keeping the old one: {}", *failed);
    return;
  }
  if (signaling != nullptr && signaling->tls()) {
    try {
      signaling->set_tls(net::make_https_context(cfg));
    } catch (const cfgns::config_error& e) {
      spdlog::error("signaling certificate reload failed, keeping the old one: {}", e.what());
    }
  }
  spdlog::info("certificate reloaded from {}", cfg.cert_file);
}

void start_signaling(std::optional<turnpike::server::signaling::signaling_server>& signaling,
                     const cfgns::loaded_config& lc, const net::server& srv) {
  if (!lc.cfg.signaling_port) return;
  const bool tls = !lc.cfg.cert_file.empty() && !lc.cfg.pkey_file.empty();
  signaling.emplace(lc.cfg, net::ice_urls(srv.listeners(), srv.relaying(), lc.cfg.external_ips),
                    tls ? net::make_https_context(lc.cfg) : nullptr);
  const std::string base =
      std::string(signaling->tls() ? "https://" : "http://").append(signaling->local().to_string());
  spdlog::info("signaling on {} (WebSocket {}{}/ws, HTTP /join /offer /answer /ice, {})", base,
               signaling->tls() ? "wss://" : "ws://", signaling->local().to_string(),
               lc.cfg.signaling_api_key.empty() ? "/ice-servers off: no signaling-api-key"
                                                : "/ice-servers with the API key");
  if (lc.embedded_default) {
    spdlog::info("demo call: open {}/?room=demo#key={} in two tabs", base,
                 lc.cfg.signaling_api_key);
  } else if (lc.cfg.signaling_demo) {
    spdlog::info("demo page: {}/", base);
  }
}

std::unique_ptr<turnpike::server::mdns::announcer> start_mdns(
    const cfgns::server_config& cfg, const net::server& srv,
    const turnpike::server::signaling::signaling_server* signaling) {
  if (!cfg.mdns) return nullptr;
  std::string name = cfg.mdns_name;
  if (name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    name = std::string("Turnpike on ").append(host);
  }
  const bool loopback_only = std::all_of(
      srv.listeners().begin(), srv.listeners().end(),
      [](const net::bound_listener& l) { return net::to_asio(l.address).is_loopback(); });
  if (loopback_only) {
    spdlog::warn("mdns: every listener is on loopback; LAN clients cannot reach them");
  }
  try {
    return std::make_unique<turnpike::server::mdns::announcer>(name, mdns_services(srv, signaling));
  } catch (const std::runtime_error& e) {
    spdlog::warn("{}; not announcing", e.what());
    return nullptr;
  }
}

void start_metrics(std::optional<turnpike::server::metrics::metrics_server>& metrics,
                   const cfgns::server_config& cfg, net::server& srv,
                   const turnpike::server::signaling::signaling_server* signaling) {
  if (!cfg.prometheus) return;
  metrics.emplace(srv, cfg.prometheus_address, cfg.prometheus_path,
                  signaling != nullptr ? &signaling->stats() : nullptr, cfg.admin_api_key);
  spdlog::info("metrics on http://{}{} (liveness /, readiness /ready)",
               metrics->local().to_string(), cfg.prometheus_path);
  if (cfg.admin_api_key.empty()) return;
  spdlog::info("sessions API on http://{}/sessions", metrics->local().to_string());
  const std::string ip = cfg.prometheus_address.ip_string();
  if (!ip.starts_with("127.") && ip != "::1") {
    spdlog::warn(
        "the sessions API is plain HTTP on {}: keep that port to the operators' network "
        "(firewall), or set prometheus-address=127.0.0.1",
        ip);
  }
}

// What the process did, logged when it stops.
void log_totals(const net::server& srv) {
  const auto t = srv.totals();
  const auto d = srv.dtls_totals();
  if (const auto s = srv.statsdb_stats()) {
    spdlog::info("redis-statsdb: round_trips={} failures={} queue_full={}", s->round_trips,
                 s->failures, s->queue_full);
  }
  if (const auto r = srv.redis_user_stats()) {
    const auto c = srv.redis()->stats();
    spdlog::info(
        "redis-userdb: round_trips={} failures={} queue_full={} connects={} cache_hits={} "
        "lookups={} coalesced={} served_stale={} unavailable={}",
        c.round_trips, c.failures, c.queue_full, c.connects, r->cache_hits, r->lookups,
        r->coalesced, r->served_stale, r->unavailable);
    const auto q = *srv.redis_quota_stats();
    spdlog::info("fleet quota: granted={} refused={} granted_locally={} renewals={}", q.granted,
                 q.refused, q.granted_locally, q.renewals);
  }
  spdlog::info(
      "stopped: packets={} binding={} classic={} success={} errors={} malformed={} "
      "bad_fingerprint={} not_request={} channel_data={} unanswered={} send_failures={} "
      "allocations={} expired={} to_peer={}/{}B to_client={}/{}B no_allocation={} "
      "no_permission={} over_bandwidth={} limited_401={} stream_timeouts={} streams_refused={} "
      "dtls_hello_verify={} dtls_handshakes={} dtls_failed={} dtls_refused={} dtls_dropped={} "
      "dtls_idle_closed={} kernel_relayed={}/{}",
      t.packets_in, t.binding_requests, t.binding_classic, t.success_responses, t.error_responses,
      t.dropped_malformed, t.dropped_bad_fingerprint, t.dropped_not_request, t.dropped_channel_data,
      t.dropped_unanswered, srv.send_failures(), t.allocations_created, t.allocations_expired,
      t.relayed_to_peer_packets, t.relayed_to_peer_bytes, t.relayed_to_client_packets,
      t.relayed_to_client_bytes, t.dropped_no_allocation, t.dropped_no_permission,
      t.dropped_bandwidth, t.unauthenticated_limited, srv.stream_timeouts(), srv.streams_refused(),
      d.hello_verify_sent, d.handshakes, d.failed, d.refused, d.dropped, d.idle_closed,
      t.kernel_to_peer_packets, t.kernel_to_client_packets);
}

// Binds, serves until a stop signal (stop_control.hpp says when), stops. Throws
// boost::system::system_error when a listener cannot be bound.
int serve(const cfgns::loaded_config& lc) {
  using turnpike::server::process::link_watch;
  using turnpike::server::process::stop_control;
  net::server srv(lc.cfg);
  srv.open();
  if (!lc.cfg.pidfile.empty()) std::ofstream(lc.cfg.pidfile) << getpid() << "\n";
  boost::asio::io_context main_io;
  boost::asio::signal_set stop_signals(main_io, SIGINT, SIGTERM);
  boost::asio::signal_set reload_signal(main_io, SIGUSR2);
  boost::asio::signal_set drain_signal(main_io, SIGUSR1);
  boost::asio::steady_timer redis_timer(main_io);
  boost::asio::steady_timer grace_timer(main_io);
  std::optional<turnpike::server::metrics::metrics_server> metrics;
  std::optional<turnpike::server::signaling::signaling_server> signaling;

  stop_control control(
      std::chrono::seconds(lc.cfg.drain_grace),
      {[&](const std::string& why) {
         // New allocations refused, readiness fails, existing allocations relay on.
         srv.drain();
         if (metrics) metrics->set_draining();
         sd_notify(0, "STATUS=draining: new allocations refused");
         spdlog::info("draining ({}): new allocations refused{}", why,
                      lc.cfg.drain_alternate ? " with 300 to " + lc.cfg.drain_alternate->to_string()
                                             : std::string(" with 508"));
         if (lc.cfg.drain_grace != 0 && why != "SIGUSR1") {
           spdlog::info("stopping once allocations end, within {} s (signal again: at once)",
                        lc.cfg.drain_grace);
         }
       },
       [&](const std::string& why) {
         spdlog::info("{}, stopping", why);
         sd_notify(0, "STOPPING=1");
         for (auto* s : {&stop_signals, &reload_signal, &drain_signal}) s->cancel();
         redis_timer.cancel();
         grace_timer.cancel();
       }});
  std::function<void()> arm_grace_check = [&] {
    const auto due = control.next_check();
    if (!due) return;
    grace_timer.expires_at(*due);
    grace_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const auto left = srv.snapshot(std::chrono::seconds(1)).total.gauges.allocations_total();
      control.on_check(left, stop_control::clock::now());
      arm_grace_check();
    });
  };
  std::function<void(const boost::system::error_code&, int)> on_stop_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        control.on_stop_signal(sig == SIGTERM ? "SIGTERM" : "SIGINT", stop_control::clock::now());
        arm_grace_check();
        if (!control.stopped()) stop_signals.async_wait(on_stop_signal);
      };
  stop_signals.async_wait(on_stop_signal);
  drain_signal.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) control.on_drain_signal();
  });
  std::function<void(const boost::system::error_code&, int)> on_reload =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        reload_certificates(srv, signaling ? &*signaling : nullptr, lc.cfg);
        reload_signal.async_wait(on_reload);
      };
  reload_signal.async_wait(on_reload);
  // redis-userdb: log when Redis becomes reachable or unreachable.
  link_watch redis([&](bool up) {
    const auto& where = *lc.cfg.redis_userdb;
    if (up) {
      spdlog::info("redis-userdb {}:{} connected", where.host, where.port);
    } else {
      spdlog::warn(
          "redis-userdb {}:{} unreachable: serving cached credentials, new users get 500 "
          "until it is back",
          where.host, where.port);
    }
  });
  std::function<void(const boost::system::error_code&)> on_redis_timer =
      [&](const boost::system::error_code& ec) {
        if (ec || srv.redis() == nullptr) return;
        redis.observe(srv.redis()->up());
        redis_timer.expires_after(std::chrono::milliseconds(500));
        redis_timer.async_wait(on_redis_timer);
      };
  on_redis_timer({});

  srv.start();
  start_signaling(signaling, lc, srv);
  const auto* signaling_ptr = signaling ? &*signaling : nullptr;
  auto announcer = start_mdns(lc.cfg, srv, signaling_ptr);
  start_metrics(metrics, lc.cfg, srv, signaling_ptr);
  if (!lc.cfg.proc_user.empty()) {
    turnpike::server::process::drop_privileges(lc.cfg.proc_user, lc.cfg.proc_group);
    spdlog::info("running as user {}{}", lc.cfg.proc_user,
                 lc.cfg.proc_group.empty() ? "" : ", group " + lc.cfg.proc_group);
  }
  print_banner(lc, srv);
  // systemd Type=notify: every listener is bound and every shard runs.
  sd_notify(0, "READY=1\nSTATUS=relaying");
  main_io.run();  // returns once stop_control has stopped
  announcer.reset();
  metrics.reset();
  signaling.reset();
  srv.stop();
  srv.join();
  log_totals(srv);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const cfgns::command_line cl = cfgns::parse_command_line(argc, argv);
  if (cl.exit_code) return *cl.exit_code;
  if (cl.version) {
    std::cout << "turnpike " << TURNPIKE_VERSION << "\n";
    return 0;
  }
  cfgns::loaded_config lc;
  try {
    lc = cfgns::load_config(cl);
  } catch (const cfgns::config_errors& e) {
    for (const auto& w : e.warnings) std::cerr << "turnpike: warning: " << w << "\n";
    for (const auto& m : e.errors) std::cerr << "turnpike: configuration error: " << m << "\n";
    std::cerr << "turnpike: " << e.errors.size() << (e.errors.size() == 1 ? " error" : " errors")
              << " in the configuration\n";
    return 1;
  } catch (const cfgns::config_error& e) {
    std::cerr << "turnpike: configuration error: " << e.what() << "\n";
    return 1;
  }
  if (cl.check_config) {
    for (const auto& w : lc.warnings) std::cerr << "turnpike: warning: " << w << "\n";
    std::cout << "# source: " << lc.source << "\n";
    for (const auto& n : lc.notes) std::cout << "# " << n << "\n";
    std::cout << cfgns::describe(lc.cfg);
    return 0;
  }
  try {
    turnpike::server::log::init(lc.cfg);
  } catch (const cfgns::config_error& e) {
    std::cerr << "turnpike: " << e.what() << "\n";
    return 1;
  }
  for (const auto& w : lc.warnings) spdlog::warn("{}", w);
  for (const auto& n : lc.notes) spdlog::info("{}", n);

  int rc = 0;
  try {
    rc = serve(lc);
  } catch (const boost::system::system_error& e) {
    spdlog::error("cannot listen: {}", e.what());
    rc = 1;
  } catch (const cfgns::config_error& e) {
    spdlog::error("configuration error: {}", e.what());
    rc = 1;
  }
  if (!lc.cfg.pidfile.empty()) (void)std::remove(lc.cfg.pidfile.c_str());
  turnpike::server::log::shutdown();
  return rc;
}
