// SPDX-License-Identifier: Apache-2.0
// Every option name Turnpike understands, each spelt once: names, short letters and arity
// follow coturn (4.0 to 4.17) so that existing turnserver.conf files and command lines work
// unchanged; options.hpp says what an entry holds.
#include <ostream>
#include <string>

#include "server/config/config.hpp"
#include "server/config/options.hpp"
#include "server/config/values.hpp"

namespace turnpike::server::config {
namespace {

using k = option_kind;
constexpr auto yes = option_status::supported;
constexpr auto later = option_status::not_yet;
constexpr auto same = option_status::turnpike_default;
constexpr auto gone = option_status::removed;

// What an option left alone holds: a setting that matters only with another one (a port
// without its service) is still shown when it was changed.
const server_config& defaults() {
  static const server_config d;
  return d;
}

void show_range(std::ostream& o, const char* name, const protocol::ip_range& r) {
  o << name << "=" << r.first.ip_string();
  if (!(r.first == r.last)) o << "-" << r.last.ip_string();
  o << "\n";
}

constexpr std::array table{
    // Listeners.
    option_spec{"listening-port", 'p', k::value, yes, "UDP and TCP listening port (3478)",
                [](server_config& c, const setting& s) { c.listening_port = parse_port(s, true); },
                [](const server_config& c, std::ostream& o) {
                  o << "listening-port=" << c.listening_port << "\n";
                }},
    option_spec{
        "alt-listening-port", '\0', k::value, yes, "RFC 5780 alternate port (listening-port + 1)",
        [](server_config& c, const setting& s) { c.alt_listening_port = parse_port(s, true); },
        [](const server_config& c, std::ostream& o) {
          if (c.alt_listening_port != 0) {
            o << "alt-listening-port=" << c.alt_listening_port << "\n";
          } else {
            o << "# alt-listening-port: " << c.effective_alt_port() << " (listening-port + 1)\n";
          }
        }},
    option_spec{"listening-ip", 'L', k::list, yes, "listening address; repeat for several",
                [](server_config& c, const setting& s) { c.listening_ips.push_back(parse_ip(s)); },
                [](const server_config& c, std::ostream& o) {
                  if (c.listening_ips.empty()) o << "# listening-ip: every interface address\n";
                  for (const auto& ip : c.listening_ips)
                    o << "listening-ip=" << ip.ip_string() << "\n";
                }},
    option_spec{"relay-threads", 'm', k::value, yes, "shards (threads); 0 = one per core",
                [](server_config& c, const setting& s) {
                  c.relay_threads = static_cast<unsigned>(parse_uint(s, 0, 256));
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.relay_threads == 0) o << "# relay-threads=0: one shard per core\n";
                  o << "relay-threads=" << c.relay_threads << "\n";
                }},
    option_spec{"no-udp", '\0', k::flag, yes, "no UDP listeners",
                [](server_config& c, const setting& s) { c.udp = !parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.udp) o << "no-udp\n";
                }},
    option_spec{"no-tcp", '\0', k::flag, yes, "no TCP listeners",
                [](server_config& c, const setting& s) { c.tcp = !parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.tcp) o << "no-tcp\n";
                }},
    option_spec{"no-rfc5780", '\0', k::flag, yes, "no NAT behaviour discovery",
                [](server_config& c, const setting& s) { c.rfc5780 = !parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.rfc5780) o << "no-rfc5780\n";
                }},
    option_spec{
        "no-stun-backward-compatibility", '\0', k::flag, yes,
        "do not answer RFC 3489 (no magic cookie) Binding requests",
        [](server_config& c, const setting& s) { c.stun_backward_compatibility = !parse_flag(s); },
        [](const server_config& c, std::ostream& o) {
          if (!c.stun_backward_compatibility) o << "no-stun-backward-compatibility\n";
        }},
    option_spec{"rfc5780", '\0', k::flag, yes,
                "NAT behaviour discovery with two listening addresses of a family (on)",
                [](server_config& c, const setting& s) { c.rfc5780 = parse_flag(s); }, nullptr,
                "no-rfc5780"},
    option_spec{"response-origin-only-with-rfc5780", '\0', k::flag, same,
                "RESPONSE-ORIGIN is sent only when RFC 5780 is on"},
    option_spec{
        "rfc3489-compatibility", '\0', k::flag, yes,
        "answer RFC 3489 (no magic cookie) Binding requests (on)",
        [](server_config& c, const setting& s) { c.stun_backward_compatibility = parse_flag(s); },
        nullptr, "no-stun-backward-compatibility"},
    option_spec{"stun-backward-compatibility", '\0', k::flag, same,
                "RFC 3489 Binding requests are answered (no-stun-backward-compatibility turns that "
                "off), with MAPPED-ADDRESS; RFC 5389 clients get XOR-MAPPED-ADDRESS only"},
    option_spec{"fingerprint", 'f', k::flag, yes, "FINGERPRINT in every response",
                [](server_config& c, const setting& s) { c.fingerprint = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.fingerprint) o << "fingerprint\n";
                }},
    option_spec{"software-attribute", '\0', k::flag, yes, "send SOFTWARE (off by default)",
                [](server_config& c, const setting& s) { c.software_attribute = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  o << (c.software_attribute ? "software-attribute\n" : "no-software-attribute\n");
                }},
    option_spec{"no-software-attribute", '\0', k::flag, yes, "do not send SOFTWARE (default)",
                [](server_config& c, const setting& s) { c.software_attribute = !parse_flag(s); },
                nullptr, "software-attribute"},
    option_spec{"prod", '\0', k::flag, yes, "old name of no-software-attribute",
                [](server_config& c, const setting& s) { c.software_attribute = !parse_flag(s); },
                nullptr, "software-attribute"},
    option_spec{"stun-only", 'S', k::flag, yes, "answer STUN Binding only",
                [](server_config& c, const setting& s) { c.stun_only = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.stun_only) o << "stun-only\n";
                }},
    option_spec{"no-stun", '\0', k::flag, yes, "do not answer STUN Binding",
                [](server_config& c, const setting& s) { c.no_stun = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.no_stun) o << "no-stun\n";
                }},
    option_spec{"log-binding", '\0', k::flag, yes, "log every Binding request (debug level)",
                [](server_config& c, const setting& s) { c.log_binding = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.log_binding) o << "log-binding\n";
                }},
    // Credentials (used by TURN; validated now).
    option_spec{"realm", 'r', k::value, yes, "default realm",
                [](server_config& c, const setting& s) {
                  c.realm = need_value(s);
                  if (c.realm.size() > 763) fail(s, "realm longer than 763 bytes");
                },
                [](const server_config& c, std::ostream& o) {
                  if (!c.realm.empty()) o << "realm=" << c.realm << "\n";
                }},
    option_spec{"user", 'u', k::list, yes, "name:password or name:0xKEY",
                [](server_config& c, const setting& s) { c.users.push_back(parse_user(s)); },
                [](const server_config& c, std::ostream& o) {
                  for (const auto& u : c.users) o << "user=" << u.name << ":<hidden>\n";
                }},
    option_spec{"lt-cred-mech", 'a', k::flag, yes, "long-term credential mechanism",
                [](server_config& c, const setting& s) { c.lt_cred_mech = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.lt_cred_mech) o << "lt-cred-mech\n";
                }},
    option_spec{"no-auth", 'z', k::flag, yes, "no credential mechanism",
                [](server_config& c, const setting& s) { c.no_auth = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.no_auth) o << "no-auth\n";
                }},
    option_spec{"server-name", '\0', k::value, yes, "server name (default: host name)",
                [](server_config& c, const setting& s) { c.server_name = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.server_name.empty()) o << "server-name=" << c.server_name << "\n";
                }},
    // Logging and process.
    option_spec{"verbose", 'v', k::flag, yes, "log level info -> debug",
                [](server_config& c, const setting& s) {
                  if (parse_flag(s)) c.level = log_level::debug;
                },
                nullptr, "log-level"},
    option_spec{"Verbose", 'V', k::flag, yes, "log level trace",
                [](server_config& c, const setting& s) {
                  if (parse_flag(s)) c.level = log_level::trace;
                },
                nullptr, "log-level"},
    option_spec{
        "log-level", '\0', k::value, yes, "trace|debug|info|warning|error (info)",
        [](server_config& c, const setting& s) { c.level = parse_level(s); },
        [](const server_config& c, std::ostream& o) {
          static const char* const levels[] = {"trace", "debug", "info", "warning", "error"};
          o << "log-level=" << levels[static_cast<int>(c.level)] << "\n";
        }},
    option_spec{"log-format", '\0', k::value, yes, "plain|json (plain)",
                [](server_config& c, const setting& s) {
                  const std::string& v = need_value(s);
                  if (v == "plain")
                    c.format = log_format::plain;
                  else if (v == "json")
                    c.format = log_format::json;
                  else
                    fail(s, "'" + v + "' is not plain or json");
                },
                [](const server_config& c, std::ostream& o) {
                  o << "log-format=" << (c.format == log_format::json ? "json" : "plain") << "\n";
                }},
    option_spec{"log-file", 'l', k::value, yes, "log file path; 'stdout' or 'syslog' accepted",
                [](server_config& c, const setting& s) {
                  const std::string& v = need_value(s);
                  // The last one given wins: a command-line "stdout" replaces the file's path.
                  c.log_file.clear();
                  if (v == "stdout" || v == "-")
                    c.stdout_log = true;
                  else if (v == "syslog")
                    c.syslog = true;
                  else
                    c.log_file = v;
                },
                [](const server_config& c, std::ostream& o) {
                  if (!c.log_file.empty()) o << "log-file=" << c.log_file << "\n";
                }},
    option_spec{"no-stdout-log", '\0', k::flag, yes, "no log lines on stdout",
                [](server_config& c, const setting& s) { c.stdout_log = !parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.stdout_log) o << "no-stdout-log\n";
                }},
    option_spec{"syslog", '\0', k::flag, yes, "log to syslog",
                [](server_config& c, const setting& s) { c.syslog = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.syslog) o << "syslog\n";
                }},
    option_spec{"syslog-facility", '\0', k::value, yes, "syslog facility (user, local0-7, ...)",
                [](server_config& c, const setting& s) {
                  check_facility(s);
                  c.syslog_facility = *s.value;
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.syslog || c.syslog_facility != defaults().syslog_facility)
                    o << "syslog-facility=" << c.syslog_facility << "\n";
                }},
    option_spec{"log-min-level", '\0', k::value, yes, "coturn's name for log-level",
                [](server_config& c, const setting& s) { c.level = parse_level(s); }, nullptr,
                "log-level"},
    option_spec{"simple-log", '\0', k::flag, same,
                "the log file is never renamed by date; rotate it with logrotate's copytruncate"},
    option_spec{"new-log-timestamp", '\0', k::flag, same, "log lines carry ISO-8601 UTC times"},
    option_spec{"pidfile", '\0', k::value, yes, "write the process id to this file",
                [](server_config& c, const setting& s) { c.pidfile = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.pidfile.empty()) o << "pidfile=" << c.pidfile << "\n";
                }},
    option_spec{"no-cli", '\0', k::flag, same, "there is no telnet CLI"},
    option_spec{
        "rfc5766-channel-numbers", '\0', k::flag, yes,
        "accept channel numbers 0x4000-0x7FFF as coturn and RFC 5766 clients do (on)",
        [](server_config& c, const setting& s) { c.rfc5766_channel_numbers = parse_flag(s); },
        nullptr, "rfc8656-channel-numbers"},
    option_spec{
        "rfc8656-channel-numbers", '\0', k::flag, yes,
        "accept only RFC 8656's channel numbers 0x4000-0x4FFF; 400 for the rest",
        [](server_config& c, const setting& s) { c.rfc5766_channel_numbers = !parse_flag(s); },
        [](const server_config& c, std::ostream& o) {
          if (!c.rfc5766_channel_numbers) o << "rfc8656-channel-numbers\n";
        }},
    option_spec{"include-reason-string", '\0', k::flag, yes, "reason phrases in ERROR-CODE",
                [](server_config& c, const setting& s) { c.include_reason_string = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.include_reason_string) o << "include-reason-string\n";
                }},
    option_spec{"stream-frame-timeout", '\0', k::value, yes,
                "seconds to finish a TLS handshake or a started frame (10)",
                [](server_config& c, const setting& s) {
                  c.stream_frame_timeout = static_cast<unsigned>(parse_uint(s, 1, 3600));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "stream-frame-timeout=" << c.stream_frame_timeout << "\n";
                }},
    option_spec{"stream-idle-timeout", '\0', k::value, yes,
                "seconds without a byte before a stream client is closed (300)",
                [](server_config& c, const setting& s) {
                  c.stream_idle_timeout = static_cast<unsigned>(parse_uint(s, 1, 86400));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "stream-idle-timeout=" << c.stream_idle_timeout << "\n";
                }},
    option_spec{"max-connections-per-ip", '\0', k::value, yes,
                "concurrent TCP/TLS connections from one IP (64; 0 = unlimited)",
                [](server_config& c, const setting& s) {
                  c.max_connections_per_ip = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "max-connections-per-ip=" << c.max_connections_per_ip << "\n";
                }},
    option_spec{"unauthenticated-answers-per-ip", '\0', k::value, yes,
                "401/438 answers per second to one IP, per shard (20; 0 = unlimited)",
                [](server_config& c, const setting& s) {
                  c.unauthenticated_per_ip = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "unauthenticated-answers-per-ip=" << c.unauthenticated_per_ip << "\n";
                }},
    option_spec{"unauthenticated-answers-per-proven-ip", '\0', k::value, yes,
                "the same, to an IP that signed a request in the last 10 minutes (1000)",
                [](server_config& c, const setting& s) {
                  c.unauthenticated_per_proven_ip =
                      static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "unauthenticated-answers-per-proven-ip=" << c.unauthenticated_per_proven_ip
                    << "\n";
                }},
    option_spec{"unauthorized-ratelimit-rps", '\0', k::value, yes,
                "coturn's name for unauthenticated-answers-per-ip",
                [](server_config& c, const setting& s) {
                  c.unauthenticated_per_ip = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
                },
                nullptr, "unauthenticated-answers-per-ip"},
    option_spec{
        "unauthorized-ratelimit", '\0', k::flag, same,
        "401 answers are always rate-limited per source IP (unauthenticated-answers-per-ip)"},
    option_spec{"failed-auth-per-user", '\0', k::value, yes,
                "wrong passwords per user and second before its new attempts are dropped, per "
                "shard (10; 0 = off)",
                [](server_config& c, const setting& s) {
                  c.failed_auth_per_user = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "failed-auth-per-user=" << c.failed_auth_per_user << "\n";
                }},
    option_spec{"nonce-secret", '\0', k::value, yes,
                "secret for stateless nonces, shared by a fleet (default: random)",
                [](server_config& c, const setting& s) { c.nonce_secret = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.nonce_secret.empty())
                    o << "nonce-secret="
                      << "<hidden>"
                      << "\n";
                }},
    option_spec{"stateless-nonce-secret", '\0', k::value, yes, "coturn's name for nonce-secret",
                [](server_config& c, const setting& s) { c.nonce_secret = need_value(s); }, nullptr,
                "nonce-secret"},
    option_spec{"stateless-nonce", '\0', k::flag, same,
                "nonces are always stateless (nonce-secret shares them across a fleet)"},
    option_spec{"drain-grace", '\0', k::value, yes,
                "seconds SIGTERM waits for allocations to end while refusing new ones (0)",
                [](server_config& c, const setting& s) {
                  c.drain_grace = static_cast<unsigned>(parse_uint(s, 0, 86400));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "drain-grace=" << c.drain_grace << "\n";
                }},
    option_spec{"drain-alternate-server", '\0', k::value, yes,
                "ip:port offered (300 ALTERNATE-SERVER) to new Allocates while draining",
                [](server_config& c, const setting& s) { c.drain_alternate = parse_ip_port(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.drain_alternate)
                    o << "drain-alternate-server=" << c.drain_alternate->to_string() << "\n";
                }},
    option_spec{"redis-cache-ttl", '\0', k::value, yes,
                "seconds a credential read from the user database (Redis or SQL) is reused (5)",
                [](server_config& c, const setting& s) {
                  c.redis_cache_ttl = static_cast<unsigned>(parse_uint(s, 0, 3600));
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.redis_userdb || c.sql_userdb ||
                      c.redis_cache_ttl != defaults().redis_cache_ttl)
                    o << "redis-cache-ttl=" << c.redis_cache_ttl << "\n";
                }},
    option_spec{"redis-lease-ttl", '\0', k::value, yes,
                "seconds an allocation's fleet quota lease lasts unrenewed (60)",
                [](server_config& c, const setting& s) {
                  c.redis_lease_ttl = static_cast<unsigned>(parse_uint(s, 3, 3600));
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.redis_userdb || c.redis_lease_ttl != defaults().redis_lease_ttl)
                    o << "redis-lease-ttl=" << c.redis_lease_ttl << "\n";
                }},
    // coturn options not implemented yet: accepted with a warning.
    option_spec{"listening-device", 'd', k::value, later,
                "listen on addresses with listening-ip instead"},
    option_spec{
        "tls-listening-port", '\0', k::value, yes, "TURN over TLS port (5349)",
        [](server_config& c, const setting& s) { c.tls_listening_port = parse_port(s, true); },
        [](const server_config& c, std::ostream& o) {
          o << "tls-listening-port=" << c.tls_listening_port << "\n";
        }},
    option_spec{"alt-tls-listening-port", '\0', k::value, later, ""},
    option_spec{"tcp-proxy-port", '\0', k::value, later, ""},
    option_spec{"aux-server", '\0', k::list, later, ""},
    option_spec{"udp-self-balance", '\0', k::flag, same,
                "UDP clients are spread over the shards by the kernel (SO_REUSEPORT)"},
    option_spec{"relay-device", 'i', k::value, later, "choose relay addresses with relay-ip"},
    option_spec{"relay-ip", 'E', k::list, yes,
                "relay address; repeatable (default: the listening IPs)",
                [](server_config& c, const setting& s) { c.relay_ips.push_back(parse_ip(s)); },
                [](const server_config& c, std::ostream& o) {
                  for (const auto& ip : c.relay_ips) o << "relay-ip=" << ip.ip_string() << "\n";
                }},
    option_spec{
        "external-ip", 'X', k::list, yes,
        "public[/private] address shown in XOR-RELAYED-ADDRESS; repeatable",
        [](server_config& c, const setting& s) { c.external_ips.push_back(parse_external_ip(s)); },
        [](const server_config& c, std::ostream& o) {
          for (const auto& [pub, priv] : c.external_ips) {
            o << "external-ip=" << pub.ip_string();
            if (priv) o << "/" << priv->ip_string();
            o << "\n";
          }
        }},
    option_spec{"allow-loopback-peers", '\0', k::flag, yes,
                "allow peers on 127.0.0.0/8 and ::1 (tests)",
                [](server_config& c, const setting& s) { c.allow_loopback_peers = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.allow_loopback_peers) o << "allow-loopback-peers\n";
                }},
    option_spec{"no-multicast-peers", '\0', k::flag, same, "multicast peers are always refused"},
    option_spec{"no-loopback-peers", '\0', k::flag, gone,
                "coturn dropped it after 4.5.0.8; loopback peers are refused unless "
                "allow-loopback-peers is set"},
    option_spec{
        "min-port", '\0', k::value, yes, "lowest relay port (49152)",
        [](server_config& c, const setting& s) { c.min_port = parse_port(s, false); },
        [](const server_config& c, std::ostream& o) { o << "min-port=" << c.min_port << "\n"; }},
    option_spec{
        "max-port", '\0', k::value, yes, "highest relay port (65535)",
        [](server_config& c, const setting& s) { c.max_port = parse_port(s, false); },
        [](const server_config& c, std::ostream& o) { o << "max-port=" << c.max_port << "\n"; }},
    option_spec{"daemon", 'o', k::flag, later,
                "Turnpike stays in the foreground: run it under systemd (deploy/turnpike.service)"},
    option_spec{"check-origin-consistency", '\0', k::flag, later, ""},
    option_spec{"user-quota", 'q', k::value, yes, "concurrent allocations per user (0 = unlimited)",
                [](server_config& c, const setting& s) {
                  c.user_quota = static_cast<unsigned>(parse_uint(s, 0, 1u << 30));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "user-quota=" << c.user_quota << "\n";
                }},
    option_spec{"total-quota", 'Q', k::value, yes, "concurrent allocations in all (0 = unlimited)",
                [](server_config& c, const setting& s) {
                  c.total_quota = static_cast<unsigned>(parse_uint(s, 0, 1u << 30));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "total-quota=" << c.total_quota << "\n";
                }},
    option_spec{
        "max-bps", 's', k::value, yes, "bytes per second per allocation (0 = unlimited)",
        [](server_config& c, const setting& s) { c.max_bps = parse_uint(s, 0, 1ul << 40); },
        [](const server_config& c, std::ostream& o) { o << "max-bps=" << c.max_bps << "\n"; }},
    option_spec{
        "bps-capacity", 'B', k::value, yes, "bytes per second relayed in all (0 = unlimited)",
        [](server_config& c, const setting& s) { c.bps_capacity = parse_uint(s, 0, 1ul << 40); },
        [](const server_config& c, std::ostream& o) {
          o << "bps-capacity=" << c.bps_capacity << "\n";
        }},
    option_spec{"userdb", 'b', k::value, yes,
                "SQLite user database in coturn's schema (Debian's coturn: /var/lib/turn/turndb)",
                [](server_config& c, const setting& s) {
                  c.sql_userdb = {auth::sql_kind::sqlite, need_value(s)};
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.sql_userdb && c.sql_userdb->kind == auth::sql_kind::sqlite)
                    o << "userdb=" << c.sql_userdb->target << "\n";
                }},
    option_spec{"db", '\0', k::value, yes, "coturn's other name for userdb",
                [](server_config& c, const setting& s) {
                  c.sql_userdb = {auth::sql_kind::sqlite, need_value(s)};
                },
                nullptr, "userdb"},
    option_spec{"psql-userdb", 'e', k::value, yes,
                "PostgreSQL user database in coturn's schema: libpq conninfo \"host=.. dbname=.. "
                "user=.. password=..\"",
                [](server_config& c, const setting& s) {
                  c.sql_userdb = {auth::sql_kind::postgresql, need_value(s)};
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.sql_userdb && c.sql_userdb->kind == auth::sql_kind::postgresql) {
                    const std::string shown =
                        auth::describe_sql_target(c.sql_userdb->kind, c.sql_userdb->target);
                    o << "psql-userdb=\"" << shown.substr(shown.find(' ') + 1) << "\"\n";
                  }
                }},
    option_spec{"sql-userdb", '\0', k::value, yes, "coturn's other name for psql-userdb",
                [](server_config& c, const setting& s) {
                  c.sql_userdb = {auth::sql_kind::postgresql, need_value(s)};
                },
                nullptr, "psql-userdb"},
    option_spec{"mysql-userdb", 'M', k::value, later, ""},
    option_spec{"mongo-userdb", 'J', k::value, later, ""},
    option_spec{"secret-key-file", '\0', k::value, later, ""},
    option_spec{"secret-ts-exp-time", '\0', k::flag, gone,
                "coturn dropped it after 4.6.3; a TURN REST username carries its own expiry time"},
    option_spec{"redis-userdb", 'N', k::value, yes,
                "Redis with users and REST secrets in coturn's layout: \"ip=.. port=.. dbname=.. "
                "password=..\"",
                [](server_config& c, const setting& s) {
                  try {
                    c.redis_userdb = auth::parse_redis_endpoint(need_value(s));
                  } catch (const std::invalid_argument& e) {
                    fail(s, e.what());
                  }
                },
                [](const server_config& c, std::ostream& o) {
                  if (const auto& r = c.redis_userdb) {
                    o << "redis-userdb=\"ip=" << r->host << " port=" << r->port
                      << " dbname=" << r->db;
                    if (!r->user.empty()) o << " user=" << r->user;
                    if (!r->password.empty()) o << " password=<hidden>";
                    o << " connect_timeout=" << r->connect_timeout.count() << "\"\n";
                  }
                }},
    option_spec{"redis-statsdb", 'O', k::value, yes,
                "Redis for allocation status and traffic reports (coturn's format)",
                [](server_config& c, const setting& s) {
                  try {
                    c.redis_statsdb = auth::parse_redis_endpoint(need_value(s));
                  } catch (const std::invalid_argument& e) {
                    fail(s, e.what());
                  }
                },
                [](const server_config& c, std::ostream& o) {
                  if (const auto& r = c.redis_statsdb)
                    o << "redis-statsdb=\"ip=" << r->host << " port=" << r->port
                      << " dbname=" << r->db << "\"\n";
                }},
    option_spec{"use-auth-secret", '\0', k::flag, yes, "TURN REST API credentials",
                [](server_config& c, const setting& s) { c.use_auth_secret = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.use_auth_secret) o << "use-auth-secret\n";
                }},
    option_spec{
        "static-auth-secret", '\0', k::list, yes, "TURN REST API secret; repeatable for rotation",
        [](server_config& c, const setting& s) { c.static_auth_secrets.push_back(need_value(s)); },
        [](const server_config& c, std::ostream& o) {
          for (std::size_t i = 0; i < c.static_auth_secrets.size(); ++i)
            o << "static-auth-secret=<hidden>\n";
        }},
    option_spec{"no-auth-pings", '\0', k::flag, same,
                "the user database is not pinged; an outage is seen on the next query"},
    option_spec{"no-dynamic-ip-list", '\0', k::flag, same,
                "peer IP lists come from the configuration (and realm options in Redis)"},
    option_spec{"no-dynamic-realms", '\0', k::flag, same,
                "realm options are read from Redis only when redis-userdb is set"},
    option_spec{"oauth", '\0', k::flag, later, ""},
    option_spec{"cert", '\0', k::value, yes, "certificate chain file (PEM)",
                [](server_config& c, const setting& s) { c.cert_file = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.cert_file.empty()) o << "cert=" << c.cert_file << "\n";
                }},
    option_spec{"pkey", '\0', k::value, yes, "private key file (PEM)",
                [](server_config& c, const setting& s) { c.pkey_file = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.pkey_file.empty()) o << "pkey=" << c.pkey_file << "\n";
                }},
    option_spec{"pkey-pwd", '\0', k::value, yes, "password of an encrypted pkey",
                [](server_config& c, const setting& s) { c.pkey_password = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.pkey_password.empty())
                    o << "pkey-pwd="
                      << "<hidden>"
                      << "\n";
                }},
    option_spec{"cipher-list", '\0', k::value, yes, "OpenSSL cipher list for TLS 1.2",
                [](server_config& c, const setting& s) { c.cipher_list = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.cipher_list.empty()) o << "cipher-list=" << c.cipher_list << "\n";
                }},
    option_spec{"CA-file", '\0', k::value, yes,
                "CA bundle (PEM): clients must present a certificate it signs",
                [](server_config& c, const setting& s) { c.ca_file = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.ca_file.empty()) o << "CA-file=" << c.ca_file << "\n";
                }},
    option_spec{"ec-curve-name", '\0', k::value, same,
                "OpenSSL's default groups are used (X25519, P-256, P-384, ...)"},
    option_spec{"dh566", '\0', k::flag, same, "no DH parameters: TLS 1.2 key exchange is ECDHE"},
    option_spec{"dh1066", '\0', k::flag, same, "no DH parameters: TLS 1.2 key exchange is ECDHE"},
    option_spec{"dh2066", '\0', k::flag, gone,
                "coturn dropped it after 4.5.1.1; no DH parameters: TLS 1.2 key exchange is ECDHE"},
    option_spec{"dh-file", '\0', k::value, same, "no DH parameters: TLS 1.2 key exchange is ECDHE"},
    option_spec{"no-tlsv1", '\0', k::flag, same, "TLS 1.0 is never offered"},
    option_spec{"no-tlsv1_1", '\0', k::flag, same, "TLS 1.1 is never offered"},
    option_spec{"tlsv1", '\0', k::flag, same,
                "TLS 1.0 is never offered (it has no cipher suite a browser still accepts)"},
    option_spec{"tlsv1_1", '\0', k::flag, same, "TLS 1.1 is never offered"},
    option_spec{"no-tlsv1_2", '\0', k::flag, yes, "TLS 1.3 only",
                [](server_config& c, const setting& s) { c.no_tlsv1_2 = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.no_tlsv1_2) o << "no-tlsv1_2\n";
                }},
    option_spec{"no-sslv2", '\0', k::flag, same, "SSL 2 is never offered"},
    option_spec{"no-sslv3", '\0', k::flag, same, "SSL 3 is never offered"},
    option_spec{"no-tls", '\0', k::flag, yes, "no TLS listeners",
                [](server_config& c, const setting& s) { c.tls = !parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.tls) o << "no-tls\n";
                }},
    option_spec{"no-dtls", '\0', k::flag, yes, "no DTLS on the UDP listeners",
                [](server_config& c, const setting& s) { c.dtls = !parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.dtls) o << "no-dtls\n";
                }},
    option_spec{"dtls", '\0', k::flag, yes,
                "DTLS on the UDP listeners (the default with cert and pkey)",
                [](server_config& c, const setting& s) { c.dtls = parse_flag(s); }, nullptr,
                "no-dtls"},
    option_spec{"no-udp-relay", '\0', k::flag, yes, "refuse UDP relays (442)",
                [](server_config& c, const setting& s) { c.no_udp_relay = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.no_udp_relay) o << "no-udp-relay\n";
                }},
    option_spec{"no-tcp-relay", '\0', k::flag, yes, "refuse RFC 6062 TCP relays (442)",
                [](server_config& c, const setting& s) { c.no_tcp_relay = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.no_tcp_relay) o << "no-tcp-relay\n";
                }},
    option_spec{"relay-mux", '\0', k::flag, yes,
                "UDP relays share a few sockets per shard, steered by an sk_lookup BPF program "
                "(root; relay ports outside net.ipv4.ip_local_port_range)",
                [](server_config& c, const setting& s) { c.relay_mux = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.relay_mux) o << "relay-mux\n";
                }},
    option_spec{"kernel-relay", '\0', k::flag, yes,
                "bound channels of UDP clients relayed by an XDP program without waking a shard "
                "(root, or CAP_BPF and CAP_NET_ADMIN at start-up)",
                [](server_config& c, const setting& s) { c.kernel_relay = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.kernel_relay) o << "kernel-relay\n";
                }},
    option_spec{"kernel-relay-mode", '\0', k::value, yes,
                "where kernel-relay runs: auto (XDP in a NIC's driver where it has it, else TC), "
                "native (XDP in the driver), generic (XDP in the stack), tc (TC ingress, Linux "
                "6.6+) (auto)",
                [](server_config& c, const setting& s) {
                  const std::string& v = need_value(s);
                  using hook = server_config::kernel_hook;
                  if (v == "auto")
                    c.kernel_relay_mode = hook::xdp_any;
                  else if (v == "native")
                    c.kernel_relay_mode = hook::xdp_native;
                  else if (v == "generic")
                    c.kernel_relay_mode = hook::xdp_generic;
                  else if (v == "tc")
                    c.kernel_relay_mode = hook::tc;
                  else
                    fail(s, "'" + v + "' is not auto, native, generic or tc");
                },
                [](const server_config& c, std::ostream& o) {
                  static const char* const modes[] = {"auto", "native", "generic", "tc"};
                  o << "kernel-relay-mode=" << modes[static_cast<int>(c.kernel_relay_mode)] << "\n";
                }},
    option_spec{
        "shard-packing", '\0', k::value, yes,
        "UDP clients on as few shards as the load needs, one per this many datagrams per second, "
        "steered by an sk_lookup BPF program (root; not with DTLS); 0: off",
        [](server_config& c, const setting& s) { c.shard_packing = parse_uint(s, 0, 100000000); },
        [](const server_config& c, std::ostream& o) {
          if (c.shard_packing != 0) o << "shard-packing=" << c.shard_packing << "\n";
        }},
    option_spec{"new-log-timestamp-format", '\0', k::value, later,
                "log times are ISO-8601 UTC; log-format=json for machines"},
    option_spec{"stale-nonce", '\0', k::optional_value, yes, "nonce lifetime in seconds (600)",
                [](server_config& c, const setting& s) {
                  // As in coturn: bare means the default, 0 means a nonce never goes stale.
                  c.stale_nonce = s.value ? static_cast<unsigned>(parse_uint(s, 0, 86400)) : 600;
                },
                [](const server_config& c, std::ostream& o) {
                  o << "stale-nonce=" << c.stale_nonce << "\n";
                }},
    option_spec{"max-allocate-lifetime", '\0', k::value, yes,
                "longest allocation lifetime, seconds (3600)",
                [](server_config& c, const setting& s) {
                  c.max_allocate_lifetime = static_cast<unsigned>(parse_uint(s, 1, 86400));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "max-allocate-lifetime=" << c.max_allocate_lifetime << "\n";
                }},
    option_spec{"channel-lifetime", '\0', k::value, yes, "channel binding lifetime, seconds (600)",
                [](server_config& c, const setting& s) {
                  c.channel_lifetime = static_cast<unsigned>(parse_uint(s, 1, 86400));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "channel-lifetime=" << c.channel_lifetime << "\n";
                }},
    option_spec{"permission-lifetime", '\0', k::value, yes, "permission lifetime, seconds (300)",
                [](server_config& c, const setting& s) {
                  c.permission_lifetime = static_cast<unsigned>(parse_uint(s, 1, 86400));
                },
                [](const server_config& c, std::ostream& o) {
                  o << "permission-lifetime=" << c.permission_lifetime << "\n";
                }},
    option_spec{
        "alternate-server", '\0', k::list, yes,
        "ip[:port] (3478) new Allocates are sent to (300), round robin; repeatable",
        [](server_config& c, const setting& s) { c.alternate_servers.push_back(parse_ip_port(s)); },
        [](const server_config& c, std::ostream& o) {
          for (const auto& a : c.alternate_servers)
            o << "alternate-server=" << a.to_string() << "\n";
        }},
    option_spec{"tls-alternate-server", '\0', k::list, yes,
                "the same for TLS and DTLS clients, port 5349 by default",
                [](server_config& c, const setting& s) {
                  c.tls_alternate_servers.push_back(parse_ip_port(s, 5349));
                },
                [](const server_config& c, std::ostream& o) {
                  for (const auto& a : c.tls_alternate_servers)
                    o << "tls-alternate-server=" << a.to_string() << "\n";
                }},
    option_spec{"udp-alternate-server", '\0', k::list, yes,
                "the same for UDP and DTLS clients (before alternate-server)",
                [](server_config& c, const setting& s) {
                  c.udp_alternate_servers.push_back(parse_ip_port(s));
                },
                [](const server_config& c, std::ostream& o) {
                  for (const auto& a : c.udp_alternate_servers)
                    o << "udp-alternate-server=" << a.to_string() << "\n";
                }},
    option_spec{"tcp-alternate-server", '\0', k::list, yes,
                "the same for TCP clients (before alternate-server)",
                [](server_config& c, const setting& s) {
                  c.tcp_alternate_servers.push_back(parse_ip_port(s));
                },
                [](const server_config& c, std::ostream& o) {
                  for (const auto& a : c.tcp_alternate_servers)
                    o << "tcp-alternate-server=" << a.to_string() << "\n";
                }},
    option_spec{"rest-api-separator", 'C', k::value, yes,
                "separator between expiry and user in REST usernames (:)",
                [](server_config& c, const setting& s) {
                  if (need_value(s).size() != 1) fail(s, "must be a single character");
                  c.rest_api_separator = s.value->front();
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.rest_api_separator != ':')
                    o << "rest-api-separator=" << c.rest_api_separator << "\n";
                }},
    option_spec{"max-allocate-timeout", '\0', k::value, later, ""},
    option_spec{
        "allowed-peer-ip", '\0', k::list, yes,
        "peer IP, range a-b or CIDR always allowed; repeatable",
        [](server_config& c, const setting& s) { c.allowed_peer_ips.push_back(parse_range(s)); },
        [](const server_config& c, std::ostream& o) {
          for (const auto& r : c.allowed_peer_ips) show_range(o, "allowed-peer-ip", r);
        }},
    option_spec{
        "denied-peer-ip", '\0', k::list, yes, "peer IP, range a-b or CIDR denied; repeatable",
        [](server_config& c, const setting& s) { c.denied_peer_ips.push_back(parse_range(s)); },
        [](const server_config& c, std::ostream& o) {
          for (const auto& r : c.denied_peer_ips) show_range(o, "denied-peer-ip", r);
        }},
    option_spec{"acme-redirect", '\0', k::value, later, ""},
    option_spec{"secure-stun", '\0', k::flag, later,
                "Binding requests are answered without credentials"},
    option_spec{"proc-user", '\0', k::value, yes,
                "started as root: run on as this user once every port is bound",
                [](server_config& c, const setting& s) { c.proc_user = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.proc_user.empty()) o << "proc-user=" << c.proc_user << "\n";
                }},
    option_spec{"proc-group", '\0', k::value, yes, "... and this group (default: the user's)",
                [](server_config& c, const setting& s) { c.proc_group = need_value(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.proc_group.empty()) o << "proc-group=" << c.proc_group << "\n";
                }},
    option_spec{"mobility", '\0', k::flag, later, ""},
    option_spec{"cli", '\0', k::flag, later, "there is no telnet CLI"},
    option_spec{"keep-address-family", 'K', k::flag, yes,
                "old name of allocation-default-address-family=keep",
                [](server_config& c, const setting& s) {
                  if (parse_flag(s))
                    c.allocation_default_family = server_config::default_family::keep;
                },
                nullptr, "allocation-default-address-family"},
    option_spec{"allocation-default-address-family", 'A', k::value, yes,
                "relay family without REQUESTED-ADDRESS-FAMILY: ipv4|ipv6|keep (ipv4)",
                [](server_config& c, const setting& s) {
                  const std::string& v = need_value(s);
                  if (v == "ipv4")
                    c.allocation_default_family = server_config::default_family::ipv4;
                  else if (v == "ipv6")
                    c.allocation_default_family = server_config::default_family::ipv6;
                  else if (v == "keep")
                    c.allocation_default_family = server_config::default_family::keep;
                  else
                    fail(s, "'" + v + "' is not ipv4, ipv6 or keep");
                },
                [](const server_config& c, std::ostream& o) {
                  static const char* const families[] = {"ipv4", "ipv6", "keep"};
                  o << "allocation-default-address-family="
                    << families[static_cast<int>(c.allocation_default_family)] << "\n";
                }},
    option_spec{"cli-ip", '\0', k::value, later, "there is no telnet CLI"},
    option_spec{"cli-port", '\0', k::value, later, "there is no telnet CLI"},
    option_spec{"cli-password", '\0', k::value, later, "there is no telnet CLI"},
    option_spec{"cli-max-output-sessions", '\0', k::value, later, "there is no telnet CLI"},
    option_spec{"web-admin", '\0', k::flag, later, ""},
    option_spec{"no-web-admin", '\0', k::flag, same, "there is no web admin page"},
    option_spec{"web-admin-ip", '\0', k::value, later, ""},
    option_spec{"web-admin-port", '\0', k::value, later, ""},
    option_spec{"web-admin-listen-on-workers", '\0', k::flag, later, ""},
    option_spec{"server-relay", '\0', k::flag, later, ""},
    option_spec{"ne", '\0', k::value, gone,
                "coturn dropped it after 4.9.0; Turnpike has one network engine"},
    option_spec{"no-http", '\0', k::flag, gone,
                "coturn dropped it after 4.5.0.8; TURN ports answer no HTTP"},
    option_spec{"sha256", '\0', k::flag, gone,
                "coturn dropped it after 4.4.4.2; SHA-256 message integrity is negotiated per RFC "
                "8489 (PASSWORD-ALGORITHMS)"},
    option_spec{
        "sha384", '\0', k::flag, gone,
        "coturn dropped it after 4.4.4.2; message integrity is SHA-1 or SHA-256 (RFC 8489)"},
    option_spec{
        "sha512", '\0', k::flag, gone,
        "coturn dropped it after 4.4.4.2; message integrity is SHA-1 or SHA-256 (RFC 8489)"},
    option_spec{"st-cred-mech", '\0', k::flag, gone,
                "coturn dropped it after 4.3.3.1; TURN has no short-term credentials: use "
                "lt-cred-mech or use-auth-secret"},
    option_spec{"cpus", '\0', k::value, later, "set the shard count with relay-threads"},
    option_spec{"drain-min-allocations", '\0', k::value, later,
                "drain-grace bounds how long a drain waits"},
    option_spec{"drop-invalid-packets", '\0', k::flag, same,
                "malformed packets are always dropped and counted in the metrics"},
    option_spec{"drop-invalid-packets-log", '\0', k::flag, later,
                "malformed packets are counted in the metrics, not logged"},
    option_spec{"multiplex-peer", '\0', k::flag, later,
                "relay-mux is Turnpike's way to relay without a socket per allocation"},
    option_spec{"multiplex-peer-port", '\0', k::value, later, "see relay-mux"},
    option_spec{"multiplex-peer-max-peers", '\0', k::value, later, "see relay-mux"},
    option_spec{"udp-recvmmsg", '\0', k::flag, same, "UDP is always received in recvmmsg batches"},
    option_spec{"udp-recvmmsg-log", '\0', k::flag, later, ""},
    option_spec{"udp-sendmmsg-log", '\0', k::flag, later, ""},
    option_spec{"udp-gso", '\0', k::flag, same, "UDP batches are sent with sendmmsg and GSO"},
    option_spec{"sock-buf-size", '\0', k::value, later, "the kernel's socket buffer sizes apply"},
    option_spec{"raw-public-keys", '\0', k::flag, later, ""},
    option_spec{"respond-http-unsupported", '\0', k::flag, later, ""},
    option_spec{"prometheus-tls", '\0', k::flag, later, ""},
    option_spec{"prometheus-cert", '\0', k::value, later, ""},
    option_spec{"prometheus-key", '\0', k::value, later, ""},
    option_spec{"prometheus-username-labels", '\0', k::flag, later,
                "metrics carry no per-user labels"},
    option_spec{"version", '\0', k::flag, later, "turnpike --version prints the version"},
    option_spec{"prometheus", '\0', k::flag, yes, "Prometheus metrics over HTTP",
                [](server_config& c, const setting& s) { c.prometheus = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.prometheus) o << "prometheus\n";
                }},
    option_spec{
        "prometheus-port", '\0', k::value, yes, "metrics port (9641)",
        [](server_config& c, const setting& s) { c.prometheus_address.port = parse_port(s, true); },
        [](const server_config& c, std::ostream& o) {
          if (c.prometheus || c.prometheus_address.port != defaults().prometheus_address.port)
            o << "prometheus-port=" << c.prometheus_address.port << "\n";
        }},
    option_spec{"prometheus-address", '\0', k::value, yes, "metrics address (0.0.0.0)",
                [](server_config& c, const setting& s) {
                  const auto port = c.prometheus_address.port;
                  c.prometheus_address = parse_ip(s);
                  c.prometheus_address.port = port;
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.prometheus ||
                      !(c.prometheus_address.ip == defaults().prometheus_address.ip))
                    o << "prometheus-address=" << c.prometheus_address.ip_string() << "\n";
                }},
    option_spec{"prometheus-path", '\0', k::value, yes, "metrics path (/metrics)",
                [](server_config& c, const setting& s) {
                  const auto& v = need_value(s);
                  if (v.empty() || v.front() != '/' || v == "/" || v == "/ready") {
                    fail(s, "must start with / and not be / or /ready");
                  }
                  c.prometheus_path = v;
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.prometheus || c.prometheus_path != defaults().prometheus_path)
                    o << "prometheus-path=" << c.prometheus_path << "\n";
                }},
    option_spec{"admin-api-key", '\0', k::value, yes,
                "Bearer key of the sessions API on the metrics listener (16+ characters); unset: "
                "the API is off",
                [](server_config& c, const setting& s) {
                  c.admin_api_key = parse_api_key(s, "every allocation");
                },
                [](const server_config& c, std::ostream& o) {
                  if (!c.admin_api_key.empty())
                    o << "# admin-api-key is set (hidden): the sessions API is on\n";
                }},
    // Turnpike's own: WebRTC signaling (rooms over WebSocket and HTTP, /ice-servers).
    option_spec{"signaling-port", '\0', k::value, yes,
                "serve WebRTC signaling, /ice-servers and the demo page on this port (0: any)",
                [](server_config& c, const setting& s) { c.signaling_port = parse_port(s, true); },
                [](const server_config& c, std::ostream& o) {
                  if (c.signaling_port) o << "signaling-port=" << *c.signaling_port << "\n";
                }},
    option_spec{"signaling-address", '\0', k::value, yes, "signaling address (0.0.0.0)",
                [](server_config& c, const setting& s) { c.signaling_address = parse_ip(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.signaling_port ||
                      !(c.signaling_address.ip == defaults().signaling_address.ip))
                    o << "signaling-address=" << c.signaling_address.ip_string() << "\n";
                }},
    option_spec{"signaling-api-key", '\0', k::value, yes,
                "Bearer key /ice-servers asks for (16+ characters; needs use-auth-secret)",
                [](server_config& c, const setting& s) {
                  c.signaling_api_key = parse_api_key(s, "TURN credentials");
                },
                [](const server_config& c, std::ostream& o) {
                  if (!c.signaling_api_key.empty()) o << "# signaling-api-key is set (hidden)\n";
                }},
    option_spec{
        "signaling-credential-ttl", '\0', k::value, yes,
        "seconds the TURN credentials from /ice-servers stay valid (86400)",
        [](server_config& c, const setting& s) {
          c.signaling_credential_ttl = static_cast<unsigned>(parse_uint(s, 60, 7ul * 86400));
        },
        [](const server_config& c, std::ostream& o) {
          if (c.signaling_port || c.signaling_credential_ttl != defaults().signaling_credential_ttl)
            o << "signaling-credential-ttl=" << c.signaling_credential_ttl << "\n";
        }},
    option_spec{
        "signaling-ice-url", '\0', k::list, yes,
        "URL listed by /ice-servers, repeatable (default: from the listeners)",
        [](server_config& c, const setting& s) {
          const auto& v = need_value(s);
          if (!v.starts_with("stun:") && !v.starts_with("turn:") && !v.starts_with("turns:")) {
            fail(s, "'" + v + "' is not a stun:, turn: or turns: URL");
          }
          for (const char ch : v) {
            if (static_cast<unsigned char>(ch) <= ' ' || ch == '"' || ch == '\\' || ch == 0x7f) {
              fail(s, "'" + v + "' has a character a URL cannot have");
            }
          }
          c.signaling_ice_urls.push_back(v);
        },
        [](const server_config& c, std::ostream& o) {
          for (const auto& u : c.signaling_ice_urls) o << "signaling-ice-url=" << u << "\n";
        }},
    option_spec{"signaling-max-message", '\0', k::value, yes,
                "largest signaling message or HTTP body in bytes (65536)",
                [](server_config& c, const setting& s) {
                  c.signaling_max_message = static_cast<unsigned>(parse_uint(s, 1024, 1 << 20));
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.signaling_port ||
                      c.signaling_max_message != defaults().signaling_max_message)
                    o << "signaling-max-message=" << c.signaling_max_message << "\n";
                }},
    option_spec{
        "signaling-rooms-per-ip", '\0', k::value, yes, "rooms one IP may be in at once (10)",
        [](server_config& c, const setting& s) {
          c.signaling_rooms_per_ip = static_cast<unsigned>(parse_uint(s, 1, 100000));
        },
        [](const server_config& c, std::ostream& o) {
          if (c.signaling_port || c.signaling_rooms_per_ip != defaults().signaling_rooms_per_ip)
            o << "signaling-rooms-per-ip=" << c.signaling_rooms_per_ip << "\n";
        }},
    option_spec{"signaling-peers-per-room", '\0', k::value, yes, "peers in one room (8)",
                [](server_config& c, const setting& s) {
                  c.signaling_peers_per_room = static_cast<unsigned>(parse_uint(s, 2, 1000));
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.signaling_port ||
                      c.signaling_peers_per_room != defaults().signaling_peers_per_room)
                    o << "signaling-peers-per-room=" << c.signaling_peers_per_room << "\n";
                }},
    option_spec{"signaling-connections-per-ip", '\0', k::value, yes,
                "signaling connections from one IP at once (32)",
                [](server_config& c, const setting& s) {
                  c.signaling_connections_per_ip = static_cast<unsigned>(parse_uint(s, 1, 100000));
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.signaling_port ||
                      c.signaling_connections_per_ip != defaults().signaling_connections_per_ip)
                    o << "signaling-connections-per-ip=" << c.signaling_connections_per_ip << "\n";
                }},
    option_spec{"signaling-idle-timeout", '\0', k::value, yes,
                "seconds before a silent connection or unpolled HTTP peer is dropped (60)",
                [](server_config& c, const setting& s) {
                  c.signaling_idle_timeout = static_cast<unsigned>(parse_uint(s, 2, 3600));
                },
                [](const server_config& c, std::ostream& o) {
                  if (c.signaling_port ||
                      c.signaling_idle_timeout != defaults().signaling_idle_timeout)
                    o << "signaling-idle-timeout=" << c.signaling_idle_timeout << "\n";
                }},
    option_spec{"no-signaling-demo", '\0', k::flag, yes, "do not serve the demo page",
                [](server_config& c, const setting& s) { c.signaling_demo = !parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (!c.signaling_demo) o << "no-signaling-demo\n";
                }},
    option_spec{"mdns", '\0', k::flag, yes,
                "announce STUN/TURN and signaling on the local network (mDNS/DNS-SD, Avahi)",
                [](server_config& c, const setting& s) { c.mdns = parse_flag(s); },
                [](const server_config& c, std::ostream& o) {
                  if (c.mdns) o << "mdns\n";
                }},
    option_spec{"mdns-name", '\0', k::value, yes,
                "instance name announced with mdns (Turnpike on <host name>)",
                [](server_config& c, const setting& s) {
                  const auto& v = need_value(s);
                  if (v.size() > 63) fail(s, "must be at most 63 bytes (one DNS label)");
                  for (const char ch : v) {
                    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
                      fail(s, "must not contain control characters");
                    }
                  }
                  c.mdns_name = v;
                },
                [](const server_config& c, std::ostream& o) {
                  if (!c.mdns_name.empty()) o << "mdns-name=\"" << c.mdns_name << "\"\n";
                }},
};

}  // namespace

std::span<const option_spec> option_table() noexcept {
  return table;
}

}  // namespace turnpike::server::config
