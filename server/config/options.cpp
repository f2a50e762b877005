// SPDX-License-Identifier: Apache-2.0
// Option table. Names, short letters and arity follow coturn 4.6's turnserver so that
// existing turnserver.conf files and command lines work unchanged.
#include "server/config/options.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace turnpike::server::config {
namespace {

using k = option_kind;
constexpr auto yes = option_status::supported;
constexpr auto later = option_status::not_yet;
constexpr auto same = option_status::turnpike_default;
constexpr auto gone = option_status::removed;

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
                "do not answer RFC 3489 (no magic cookie) Binding requests"},
    option_spec{"rfc5780", '\0', k::flag, yes,
                "NAT behaviour discovery with two listening addresses of a family (on)"},
    option_spec{"response-origin-only-with-rfc5780", '\0', k::flag, same,
                "RESPONSE-ORIGIN is sent only when RFC 5780 is on"},
    option_spec{"rfc3489-compatibility", '\0', k::flag, yes,
                "answer RFC 3489 (no magic cookie) Binding requests (on)"},
    option_spec{"stun-backward-compatibility", '\0', k::flag, same,
                "RFC 3489 Binding requests are answered (no-stun-backward-compatibility turns "
                "that off), with MAPPED-ADDRESS; RFC 5389 clients get XOR-MAPPED-ADDRESS only"},
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
    option_spec{"log-min-level", '\0', k::value, yes, "coturn's name for log-level"},
    option_spec{"simple-log", '\0', k::flag, same,
                "the log file is never renamed by date; rotate it with logrotate's copytruncate"},
    option_spec{"new-log-timestamp", '\0', k::flag, same, "log lines carry ISO-8601 UTC times"},
    option_spec{"pidfile", '\0', k::value, yes, "write the process id to this file"},
    option_spec{"no-cli", '\0', k::flag, same, "there is no telnet CLI"},
    option_spec{"rfc5766-channel-numbers", '\0', k::flag, yes,
                "accept channel numbers 0x4000-0x7FFF as coturn and RFC 5766 clients do (on)"},
    option_spec{"rfc8656-channel-numbers", '\0', k::flag, yes,
                "accept only RFC 8656's channel numbers 0x4000-0x4FFF; 400 for the rest"},
    option_spec{"include-reason-string", '\0', k::flag, yes, "reason phrases in ERROR-CODE"},
    option_spec{"stream-frame-timeout", '\0', k::value, yes,
                "seconds to finish a TLS handshake or a started frame (10)"},
    option_spec{"stream-idle-timeout", '\0', k::value, yes,
                "seconds without a byte before a stream client is closed (300)"},
    option_spec{"max-connections-per-ip", '\0', k::value, yes,
                "concurrent TCP/TLS connections from one IP (64; 0 = unlimited)"},
    option_spec{"unauthenticated-answers-per-ip", '\0', k::value, yes,
                "401/438 answers per second to one IP, per shard (20; 0 = unlimited)"},
    option_spec{"unauthenticated-answers-per-proven-ip", '\0', k::value, yes,
                "the same, to an IP that signed a request in the last 10 minutes (1000)"},
    option_spec{"unauthorized-ratelimit-rps", '\0', k::value, yes,
                "coturn's name for unauthenticated-answers-per-ip"},
    option_spec{"unauthorized-ratelimit", '\0', k::flag, same,
                "401 answers are always rate-limited per source IP "
                "(unauthenticated-answers-per-ip)"},
    option_spec{"failed-auth-per-user", '\0', k::value, yes,
                "wrong passwords per user and second before its new attempts are dropped, per "
                "shard (10; 0 = off)"},
    option_spec{"nonce-secret", '\0', k::value, yes,
                "secret for stateless nonces, shared by a fleet (default: random)"},
    option_spec{"stateless-nonce-secret", '\0', k::value, yes, "coturn's name for nonce-secret"},
    option_spec{"stateless-nonce", '\0', k::flag, same,
                "nonces are always stateless (nonce-secret shares them across a fleet)"},
    option_spec{"drain-grace", '\0', k::value, yes,
                "seconds SIGTERM waits for allocations to end while refusing new ones (0)"},
    option_spec{"drain-alternate-server", '\0', k::value, yes,
                "ip:port offered (300 ALTERNATE-SERVER) to new Allocates while draining"},
    option_spec{"redis-cache-ttl", '\0', k::value, yes,
                "seconds a credential read from the user database (Redis or SQL) is reused (5)"},
    option_spec{"redis-lease-ttl", '\0', k::value, yes,
                "seconds an allocation's fleet quota lease lasts unrenewed (60)"},
    // coturn options not implemented yet: accepted with a warning.
    option_spec{"listening-device", 'd', k::value, later,
                "listen on addresses with listening-ip instead"},
    option_spec{"tls-listening-port", '\0', k::value, yes, "TURN over TLS port (5349)"},
    option_spec{"alt-tls-listening-port", '\0', k::value, later, ""},
    option_spec{"tcp-proxy-port", '\0', k::value, later, ""},
    option_spec{"aux-server", '\0', k::list, later, ""},
    option_spec{"udp-self-balance", '\0', k::flag, same,
                "UDP clients are spread over the shards by the kernel (SO_REUSEPORT)"},
    option_spec{"relay-device", 'i', k::value, later, "choose relay addresses with relay-ip"},
    option_spec{"relay-ip", 'E', k::list, yes,
                "relay address; repeatable (default: the listening IPs)"},
    option_spec{"external-ip", 'X', k::list, yes,
                "public[/private] address shown in XOR-RELAYED-ADDRESS; repeatable"},
    option_spec{"allow-loopback-peers", '\0', k::flag, yes,
                "allow peers on 127.0.0.0/8 and ::1 (tests)"},
    option_spec{"no-multicast-peers", '\0', k::flag, same, "multicast peers are always refused"},
    option_spec{"no-loopback-peers", '\0', k::flag, gone,
                "coturn dropped it after 4.5.0.8; loopback peers are refused unless "
                "allow-loopback-peers is set"},
    option_spec{"min-port", '\0', k::value, yes, "lowest relay port (49152)"},
    option_spec{"max-port", '\0', k::value, yes, "highest relay port (65535)"},
    option_spec{"daemon", 'o', k::flag, later,
                "Turnpike stays in the foreground: run it under systemd (deploy/turnpike.service)"},
    option_spec{"check-origin-consistency", '\0', k::flag, later, ""},
    option_spec{"user-quota", 'q', k::value, yes,
                "concurrent allocations per user (0 = unlimited)"},
    option_spec{"total-quota", 'Q', k::value, yes, "concurrent allocations in all (0 = unlimited)"},
    option_spec{"max-bps", 's', k::value, yes, "bytes per second per allocation (0 = unlimited)"},
    option_spec{"bps-capacity", 'B', k::value, yes,
                "bytes per second relayed in all (0 = unlimited)"},
    option_spec{"userdb", 'b', k::value, yes,
                "SQLite user database in coturn's schema (Debian's coturn: /var/lib/turn/turndb)"},
    option_spec{"db", '\0', k::value, yes, "coturn's other name for userdb"},
    option_spec{"psql-userdb", 'e', k::value, yes,
                "PostgreSQL user database in coturn's schema: libpq conninfo \"host=.. dbname=.. "
                "user=.. password=..\""},
    option_spec{"sql-userdb", '\0', k::value, yes, "coturn's other name for psql-userdb"},
    option_spec{"mysql-userdb", 'M', k::value, later, ""},
    option_spec{"mongo-userdb", 'J', k::value, later, ""},
    option_spec{"secret-key-file", '\0', k::value, later, ""},
    option_spec{"secret-ts-exp-time", '\0', k::flag, gone,
                "coturn dropped it after 4.6.3; a TURN REST username carries its own expiry time"},
    option_spec{"redis-userdb", 'N', k::value, yes,
                "Redis with users and REST secrets in coturn's layout: \"ip=.. port=.. dbname=.. "
                "password=..\""},
    option_spec{"redis-statsdb", 'O', k::value, yes,
                "Redis for allocation status and traffic reports (coturn's format)"},
    option_spec{"use-auth-secret", '\0', k::flag, yes, "TURN REST API credentials"},
    option_spec{"static-auth-secret", '\0', k::list, yes,
                "TURN REST API secret; repeatable for rotation"},
    option_spec{"no-auth-pings", '\0', k::flag, same,
                "the user database is not pinged; an outage is seen on the next query"},
    option_spec{"no-dynamic-ip-list", '\0', k::flag, same,
                "peer IP lists come from the configuration (and realm options in Redis)"},
    option_spec{"no-dynamic-realms", '\0', k::flag, same,
                "realm options are read from Redis only when redis-userdb is set"},
    option_spec{"oauth", '\0', k::flag, later, ""},
    option_spec{"cert", '\0', k::value, yes, "certificate chain file (PEM)"},
    option_spec{"pkey", '\0', k::value, yes, "private key file (PEM)"},
    option_spec{"pkey-pwd", '\0', k::value, yes, "password of an encrypted pkey"},
    option_spec{"cipher-list", '\0', k::value, yes, "OpenSSL cipher list for TLS 1.2"},
    option_spec{"CA-file", '\0', k::value, yes,
                "CA bundle (PEM): clients must present a certificate it signs"},
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
    option_spec{"no-tlsv1_2", '\0', k::flag, yes, "TLS 1.3 only"},
    option_spec{"no-sslv2", '\0', k::flag, same, "SSL 2 is never offered"},
    option_spec{"no-sslv3", '\0', k::flag, same, "SSL 3 is never offered"},
    option_spec{"no-tls", '\0', k::flag, yes, "no TLS listeners"},
    option_spec{"no-dtls", '\0', k::flag, yes, "no DTLS on the UDP listeners"},
    option_spec{"dtls", '\0', k::flag, yes,
                "DTLS on the UDP listeners (the default with cert and pkey)"},
    option_spec{"no-udp-relay", '\0', k::flag, yes, "refuse UDP relays (442)"},
    option_spec{"no-tcp-relay", '\0', k::flag, yes, "refuse RFC 6062 TCP relays (442)"},
    option_spec{"relay-mux", '\0', k::flag, yes,
                "UDP relays share a few sockets per shard, steered by an sk_lookup BPF program "
                "(root; relay ports outside net.ipv4.ip_local_port_range)"},
    option_spec{"shard-packing", '\0', k::value, yes,
                "UDP clients on as few shards as the load needs, one per this many datagrams "
                "per second, steered by an sk_lookup BPF program (root; not with DTLS); 0: off"},
    option_spec{"new-log-timestamp-format", '\0', k::value, later,
                "log times are ISO-8601 UTC; log-format=json for machines"},
    option_spec{"stale-nonce", '\0', k::optional_value, yes, "nonce lifetime in seconds (600)"},
    option_spec{"max-allocate-lifetime", '\0', k::value, yes,
                "longest allocation lifetime, seconds (3600)"},
    option_spec{"channel-lifetime", '\0', k::value, yes, "channel binding lifetime, seconds (600)"},
    option_spec{"permission-lifetime", '\0', k::value, yes, "permission lifetime, seconds (300)"},
    option_spec{"alternate-server", '\0', k::list, yes,
                "ip[:port] (3478) new Allocates are sent to (300), round robin; repeatable"},
    option_spec{"tls-alternate-server", '\0', k::list, yes,
                "the same for TLS and DTLS clients, port 5349 by default"},
    option_spec{"udp-alternate-server", '\0', k::list, yes,
                "the same for UDP and DTLS clients (before alternate-server)"},
    option_spec{"tcp-alternate-server", '\0', k::list, yes,
                "the same for TCP clients (before alternate-server)"},
    option_spec{"rest-api-separator", 'C', k::value, yes,
                "separator between expiry and user in REST usernames (:)"},
    option_spec{"max-allocate-timeout", '\0', k::value, later, ""},
    option_spec{"allowed-peer-ip", '\0', k::list, yes,
                "peer IP, range a-b or CIDR always allowed; repeatable"},
    option_spec{"denied-peer-ip", '\0', k::list, yes,
                "peer IP, range a-b or CIDR denied; repeatable"},
    option_spec{"acme-redirect", '\0', k::value, later, ""},
    option_spec{"secure-stun", '\0', k::flag, later,
                "Binding requests are answered without credentials"},
    option_spec{"proc-user", '\0', k::value, yes,
                "started as root: run on as this user once every port is bound"},
    option_spec{"proc-group", '\0', k::value, yes, "... and this group (default: the user's)"},
    option_spec{"mobility", '\0', k::flag, later, ""},
    option_spec{"cli", '\0', k::flag, later, "there is no telnet CLI"},
    option_spec{"keep-address-family", 'K', k::flag, yes,
                "old name of allocation-default-address-family=keep"},
    option_spec{"allocation-default-address-family", 'A', k::value, yes,
                "relay family without REQUESTED-ADDRESS-FAMILY: ipv4|ipv6|keep (ipv4)"},
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
    option_spec{"prometheus", '\0', k::flag, yes, "Prometheus metrics over HTTP"},
    option_spec{"prometheus-port", '\0', k::value, yes, "metrics port (9641)"},
    option_spec{"prometheus-address", '\0', k::value, yes, "metrics address (0.0.0.0)"},
    option_spec{"prometheus-path", '\0', k::value, yes, "metrics path (/metrics)"},
    option_spec{"admin-api-key", '\0', k::value, yes,
                "Bearer key of the sessions API on the metrics listener (16+ characters); "
                "unset: the API is off"},
    // Turnpike's own: WebRTC signaling (rooms over WebSocket and HTTP, /ice-servers).
    option_spec{"signaling-port", '\0', k::value, yes,
                "serve WebRTC signaling, /ice-servers and the demo page on this port (0: any)"},
    option_spec{"signaling-address", '\0', k::value, yes, "signaling address (0.0.0.0)"},
    option_spec{"signaling-api-key", '\0', k::value, yes,
                "Bearer key /ice-servers asks for (16+ characters; needs use-auth-secret)"},
    option_spec{"signaling-credential-ttl", '\0', k::value, yes,
                "seconds the TURN credentials from /ice-servers stay valid (86400)"},
    option_spec{"signaling-ice-url", '\0', k::list, yes,
                "URL listed by /ice-servers, repeatable (default: from the listeners)"},
    option_spec{"signaling-max-message", '\0', k::value, yes,
                "largest signaling message or HTTP body in bytes (65536)"},
    option_spec{"signaling-rooms-per-ip", '\0', k::value, yes,
                "rooms one IP may be in at once (10)"},
    option_spec{"signaling-peers-per-room", '\0', k::value, yes, "peers in one room (8)"},
    option_spec{"signaling-connections-per-ip", '\0', k::value, yes,
                "signaling connections from one IP at once (32)"},
    option_spec{"signaling-idle-timeout", '\0', k::value, yes,
                "seconds before a silent connection or unpolled HTTP peer is dropped (60)"},
    option_spec{"no-signaling-demo", '\0', k::flag, yes, "do not serve the demo page"},
    option_spec{"mdns", '\0', k::flag, yes,
                "announce STUN/TURN and signaling on the local network (mDNS/DNS-SD, Avahi)"},
    option_spec{"mdns-name", '\0', k::value, yes,
                "instance name announced with mdns (Turnpike on <host name>)"},
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

std::string_view nearest_option(std::string_view name) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  // Levenshtein distance, one row at a time.
  auto distance = [&](std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min(
            {row[j] + 1, row[j - 1] + 1, diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  std::string_view best;
  std::size_t best_distance = 0;
  for (const option_spec& o : table) {
    const std::size_t d = distance(name, o.name);
    if (best.empty() || d < best_distance) {
      best = o.name;
      best_distance = d;
    }
  }
  // A typo changes a few characters; beyond a third of the name it is another word.
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
  return best_distance <= limit ? best : std::string_view{};
}

}  // namespace turnpike::server::config
