// SPDX-License-Identifier: Apache-2.0
// Option table. Names, short letters and arity follow coturn 4.6's turnserver so that
// existing turnserver.conf files and command lines work unchanged.
#include "server/config/options.hpp"

#include <array>

namespace turnpike::server::config {
namespace {

using k = option_kind;
constexpr auto yes = option_status::supported;
constexpr auto later = option_status::not_yet;

constexpr std::array table{
    // Listeners.
    option_spec{"listening-port", 'p', k::value, yes, "UDP and TCP listening port (3478)"},
    option_spec{"alt-listening-port", '\0', k::value, yes,
                "RFC 5780 alternate port (listening-port + 1)"},
    option_spec{"listening-ip", 'L', k::list, yes, "listening address; repeat for several"},
    option_spec{"relay-threads", 'm', k::value, yes, "shards (threads); 0 = one per core"},
    option_spec{"no-udp", '\0', k::flag, yes, "no UDP listeners"},
    option_spec{"no-tcp", '\0', k::flag, yes, "no TCP listeners"},
    option_spec{"no-rfc5780", '\0', k::flag, yes, "no NAT behaviour discovery"},
    option_spec{"no-stun-backward-compatibility", '\0', k::flag, yes,
                "no MAPPED-ADDRESS, no RFC 3489 clients"},
    option_spec{"response-origin-only-with-rfc5780", '\0', k::flag, yes,
                "RESPONSE-ORIGIN only when RFC 5780 is on (always the case in Turnpike)"},
    option_spec{"fingerprint", 'f', k::flag, yes, "FINGERPRINT in every response"},
    option_spec{"software-attribute", '\0', k::flag, yes, "send SOFTWARE (off by default)"},
    option_spec{"no-software-attribute", '\0', k::flag, yes, "do not send SOFTWARE (default)"},
    option_spec{"prod", '\0', k::flag, yes, "old name of no-software-attribute"},
    option_spec{"stun-only", 'S', k::flag, yes, "answer STUN Binding only"},
    option_spec{"no-stun", '\0', k::flag, yes, "do not answer STUN Binding"},
    option_spec{"log-binding", '\0', k::flag, yes, "log every Binding request (debug level)"},
    // Credentials (used by TURN; validated now).
    option_spec{"realm", 'r', k::value, yes, "default realm"},
    option_spec{"user", 'u', k::list, yes, "name:password or name:0xKEY"},
    option_spec{"lt-cred-mech", 'a', k::flag, yes, "long-term credential mechanism"},
    option_spec{"no-auth", 'z', k::flag, yes, "no credential mechanism"},
    option_spec{"server-name", '\0', k::value, yes, "server name (default: host name)"},
    // Logging and process.
    option_spec{"verbose", 'v', k::flag, yes, "log level info -> debug"},
    option_spec{"Verbose", 'V', k::flag, yes, "log level trace"},
    option_spec{"log-level", '\0', k::value, yes, "trace|debug|info|warning|error (info)"},
    option_spec{"log-format", '\0', k::value, yes, "plain|json (plain)"},
    option_spec{"log-file", 'l', k::value, yes, "log file path; 'stdout' or 'syslog' accepted"},
    option_spec{"no-stdout-log", '\0', k::flag, yes, "no log lines on stdout"},
    option_spec{"syslog", '\0', k::flag, yes, "log to syslog"},
    option_spec{"syslog-facility", '\0', k::value, yes, "syslog facility (user, local0-7, ...)"},
    option_spec{"simple-log", '\0', k::flag, yes, "no log rollover (always the case)"},
    option_spec{"new-log-timestamp", '\0', k::flag, yes, "ISO-8601 timestamps (always the case)"},
    option_spec{"pidfile", '\0', k::value, yes, "write the process id to this file"},
    option_spec{"no-cli", '\0', k::flag, yes, "no telnet CLI (Turnpike has none)"},
    option_spec{"rfc5766-channel-numbers", '\0', k::flag, yes,
                "accept channel numbers up to 0x7FFF (RFC 5766 clients)"},
    option_spec{"include-reason-string", '\0', k::flag, yes, "reason phrases in ERROR-CODE"},
    option_spec{"stream-frame-timeout", '\0', k::value, yes,
                "seconds to finish a TLS handshake or a started frame (10)"},
    option_spec{"stream-idle-timeout", '\0', k::value, yes,
                "seconds without a byte before a stream client is closed (300)"},
    option_spec{"max-connections-per-ip", '\0', k::value, yes,
                "concurrent TCP/TLS connections from one IP (64; 0 = unlimited)"},
    option_spec{"nonce-secret", '\0', k::value, yes,
                "secret for stateless nonces, shared by a fleet (default: random)"},
    option_spec{"redis-cache-ttl", '\0', k::value, yes,
                "seconds a credential read from redis-userdb is reused (5)"},
    // coturn options not implemented yet: accepted with a warning.
    option_spec{"listening-device", 'd', k::value, later, ""},
    option_spec{"tls-listening-port", '\0', k::value, yes, "TURN over TLS port (5349)"},
    option_spec{"alt-tls-listening-port", '\0', k::value, later, ""},
    option_spec{"tcp-proxy-port", '\0', k::value, later, ""},
    option_spec{"aux-server", '\0', k::list, later, ""},
    option_spec{"udp-self-balance", '\0', k::flag, later, ""},
    option_spec{"relay-device", 'i', k::value, later, ""},
    option_spec{"relay-ip", 'E', k::list, yes,
                "relay address; repeatable (default: the listening IPs)"},
    option_spec{"external-ip", 'X', k::list, yes,
                "public[/private] address shown in XOR-RELAYED-ADDRESS; repeatable"},
    option_spec{"allow-loopback-peers", '\0', k::flag, yes,
                "allow peers on 127.0.0.0/8 and ::1 (tests)"},
    option_spec{"no-multicast-peers", '\0', k::flag, yes, "deny multicast peers (always the case)"},
    option_spec{"min-port", '\0', k::value, yes, "lowest relay port (49152)"},
    option_spec{"max-port", '\0', k::value, yes, "highest relay port (65535)"},
    option_spec{"daemon", 'o', k::flag, later, ""},
    option_spec{"check-origin-consistency", '\0', k::flag, later, ""},
    option_spec{"user-quota", 'q', k::value, yes,
                "concurrent allocations per user (0 = unlimited)"},
    option_spec{"total-quota", 'Q', k::value, yes, "concurrent allocations in all (0 = unlimited)"},
    option_spec{"max-bps", 's', k::value, yes, "bytes per second per allocation (0 = unlimited)"},
    option_spec{"bps-capacity", 'B', k::value, yes,
                "bytes per second relayed in all (0 = unlimited)"},
    option_spec{"userdb", 'b', k::value, later, ""},
    option_spec{"db", '\0', k::value, later, ""},
    option_spec{"psql-userdb", 'e', k::value, later, ""},
    option_spec{"sql-userdb", '\0', k::value, later, ""},
    option_spec{"mysql-userdb", 'M', k::value, later, ""},
    option_spec{"mongo-userdb", 'J', k::value, later, ""},
    option_spec{"secret-key-file", '\0', k::value, later, ""},
    option_spec{"redis-userdb", 'N', k::value, yes,
                "Redis with users and REST secrets in coturn's layout: \"ip=.. port=.. dbname=.. "
                "password=..\""},
    option_spec{"redis-statsdb", 'O', k::value, later, ""},
    option_spec{"use-auth-secret", '\0', k::flag, yes, "TURN REST API credentials"},
    option_spec{"static-auth-secret", '\0', k::list, yes,
                "TURN REST API secret; repeatable for rotation"},
    option_spec{"no-auth-pings", '\0', k::flag, later, ""},
    option_spec{"no-dynamic-ip-list", '\0', k::flag, later, ""},
    option_spec{"no-dynamic-realms", '\0', k::flag, later, ""},
    option_spec{"oauth", '\0', k::flag, later, ""},
    option_spec{"cert", '\0', k::value, yes, "certificate chain file (PEM)"},
    option_spec{"pkey", '\0', k::value, yes, "private key file (PEM)"},
    option_spec{"pkey-pwd", '\0', k::value, yes, "password of an encrypted pkey"},
    option_spec{"cipher-list", '\0', k::value, yes, "OpenSSL cipher list for TLS 1.2"},
    option_spec{"CA-file", '\0', k::value, yes,
                "CA bundle (PEM): clients must present a certificate it signs"},
    option_spec{"ec-curve-name", '\0', k::value, later, ""},
    option_spec{"dh566", '\0', k::flag, later, ""},
    option_spec{"dh1066", '\0', k::flag, later, ""},
    option_spec{"dh-file", '\0', k::value, later, ""},
    option_spec{"no-tlsv1", '\0', k::flag, yes, "accepted: TLS 1.0 is never offered"},
    option_spec{"no-tlsv1_1", '\0', k::flag, yes, "accepted: TLS 1.1 is never offered"},
    option_spec{"no-tlsv1_2", '\0', k::flag, yes, "TLS 1.3 only"},
    option_spec{"no-sslv2", '\0', k::flag, later, ""},
    option_spec{"no-sslv3", '\0', k::flag, later, ""},
    option_spec{"no-tls", '\0', k::flag, yes, "no TLS listeners"},
    option_spec{"no-dtls", '\0', k::flag, yes, "no DTLS on the UDP listeners"},
    option_spec{"dtls", '\0', k::flag, yes,
                "DTLS on the UDP listeners (the default with cert and pkey)"},
    option_spec{"no-udp-relay", '\0', k::flag, yes, "refuse UDP relays (442)"},
    option_spec{"no-tcp-relay", '\0', k::flag, yes, "refuse RFC 6062 TCP relays (442)"},
    option_spec{"new-log-timestamp-format", '\0', k::value, later, ""},
    option_spec{"stale-nonce", '\0', k::optional_value, yes, "nonce lifetime in seconds (600)"},
    option_spec{"max-allocate-lifetime", '\0', k::value, yes,
                "longest allocation lifetime, seconds (3600)"},
    option_spec{"channel-lifetime", '\0', k::value, yes, "channel binding lifetime, seconds (600)"},
    option_spec{"permission-lifetime", '\0', k::value, yes, "permission lifetime, seconds (300)"},
    option_spec{"alternate-server", '\0', k::list, later, ""},
    option_spec{"tls-alternate-server", '\0', k::list, later, ""},
    option_spec{"rest-api-separator", 'C', k::value, yes,
                "separator between expiry and user in REST usernames (:)"},
    option_spec{"max-allocate-timeout", '\0', k::value, later, ""},
    option_spec{"allowed-peer-ip", '\0', k::list, yes,
                "peer IP, range a-b or CIDR always allowed; repeatable"},
    option_spec{"denied-peer-ip", '\0', k::list, yes,
                "peer IP, range a-b or CIDR denied; repeatable"},
    option_spec{"acme-redirect", '\0', k::value, later, ""},
    option_spec{"secure-stun", '\0', k::flag, later, ""},
    option_spec{"proc-user", '\0', k::value, later, ""},
    option_spec{"proc-group", '\0', k::value, later, ""},
    option_spec{"mobility", '\0', k::flag, later, ""},
    option_spec{"keep-address-family", 'K', k::flag, yes,
                "old name of allocation-default-address-family=keep"},
    option_spec{"allocation-default-address-family", 'A', k::value, yes,
                "relay family without REQUESTED-ADDRESS-FAMILY: ipv4|ipv6|keep (ipv4)"},
    option_spec{"cli-ip", '\0', k::value, later, ""},
    option_spec{"cli-port", '\0', k::value, later, ""},
    option_spec{"cli-password", '\0', k::value, later, ""},
    option_spec{"cli-max-output-sessions", '\0', k::value, later, ""},
    option_spec{"web-admin", '\0', k::flag, later, ""},
    option_spec{"web-admin-ip", '\0', k::value, later, ""},
    option_spec{"web-admin-port", '\0', k::value, later, ""},
    option_spec{"web-admin-listen-on-workers", '\0', k::flag, later, ""},
    option_spec{"server-relay", '\0', k::flag, later, ""},
    option_spec{"ne", '\0', k::value, later, ""},
    option_spec{"prometheus", '\0', k::flag, later, ""},
    option_spec{"prometheus-port", '\0', k::value, later, ""},
};

}  // namespace

std::span<const option_spec> option_table() noexcept {
  return table;
}

const option_spec* find_option(std::string_view name) noexcept {
  for (const option_spec& o : table) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

}  // namespace turnpike::server::config
