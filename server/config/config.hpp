// SPDX-License-Identifier: Apache-2.0
// The validated, immutable server configuration, and how it is built from turnserver.conf
// lines and command-line settings (coturn's format: "key=value", "key value", bare flags,
// '#' comments, repeated list keys; the command line overrides the file).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/redis_endpoint.hpp"
#include "auth/sql_connection.hpp"
#include "protocol/ip_range.hpp"
#include "protocol/long_term_key.hpp"
#include "protocol/types.hpp"
#include "server/config/resolve.hpp"

namespace turnpike::server::config {

// Start-up failure naming where and why ("turnserver.conf:12: listening-port: ...").
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Every problem of a configuration at once (what() joins them, one per line), and the
// warnings gathered before it was given up.
struct config_errors : config_error {
  config_errors(std::vector<std::string> errors, std::vector<std::string> warnings);
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

enum class log_level { trace, debug, info, warning, error };
enum class log_format { plain, json };

struct user_entry {
  std::string name;
  std::optional<std::string> password;   // "name:password"
  std::optional<protocol::md5_key> key;  // "name:0x<32 hex digits>" (coturn's turnadmin -k form)
  friend bool operator==(const user_entry&, const user_entry&) = default;
};

struct server_config {
  // Listeners.
  std::vector<protocol::transport_address> listening_ips;  // empty: every interface address
  std::uint16_t listening_port = 3478;
  std::uint16_t alt_listening_port = 0;  // 0: listening_port + 1
  unsigned relay_threads = 0;            // 0: one shard per core
  bool udp = true;
  bool tcp = true;
  // TLS (TURN over TLS, RFC 8656 section 3.1): on tls-listening-port, and on listening-port
  // too (the first byte tells TLS from plain), when cert and pkey are set and not no-tls.
  bool tls = true;
  std::uint16_t tls_listening_port = 5349;
  std::string cert_file;
  std::string pkey_file;
  std::string pkey_password;
  std::string cipher_list;
  std::string ca_file;      // set: clients must present a certificate this bundle verifies
  bool no_tlsv1_2 = false;  // TLS 1.3 only
  // DTLS 1.2 on every UDP listener (told apart from STUN by the first byte, RFC 7983), and a
  // UDP listener on tls-listening-port, when cert and pkey are set and not no-dtls.
  bool dtls = true;
  // Stream (TCP/TLS) client limits.
  unsigned stream_frame_timeout = 10;    // handshake / first byte / finishing a started frame
  unsigned stream_idle_timeout = 300;    // no byte received
  unsigned max_connections_per_ip = 64;  // concurrent streams from one IP (0: unlimited)
  unsigned unauthenticated_per_ip = 20;  // 401/438 answers per second per IP and shard (0: all)
  // ... to an IP that sent a correctly signed request in the last 10 minutes (0: all).
  unsigned unauthenticated_per_proven_ip = 1000;
  unsigned failed_auth_per_user = 10;  // wrong passwords per user, second and shard (0: off)
  // STUN behaviour.
  bool rfc5780 = true;  // effective only with two listening addresses of one family
  bool stun_backward_compatibility = true;
  bool fingerprint = false;
  bool software_attribute = false;
  bool stun_only = false;
  bool no_stun = false;
  bool log_binding = false;
  // Credentials.
  std::string realm;
  std::vector<user_entry> users;
  bool lt_cred_mech = false;
  bool no_auth = false;
  // Users and REST secrets in Redis (coturn's layout), cached for redis_cache_ttl seconds.
  std::optional<auth::redis_endpoint> redis_userdb;
  // Or in SQL (coturn's schema): SQLite file or PostgreSQL conninfo, cached the same way.
  struct sql_database {
    auth::sql_kind kind = auth::sql_kind::sqlite;
    std::string target;  // file path, or libpq conninfo
    friend bool operator==(const sql_database&, const sql_database&) = default;
  };
  std::optional<sql_database> sql_userdb;
  unsigned redis_cache_ttl = 5;
  // Graceful drain (SIGUSR1; SIGTERM too when drain_grace > 0): new allocations refused.
  unsigned drain_grace = 0;  // seconds SIGTERM waits for allocations to end (0: stop at once)
  std::optional<protocol::transport_address> drain_alternate;  // offered with 300
  // coturn's redirect mode: every new Allocate is answered 300 Try Alternate with the next
  // address of the client transport's list (round robin; only addresses of the family the
  // client reached us on, never the address it reached). udp- and tcp-alternate-server come
  // before alternate-server for their transports; tls-alternate-server for TLS, and for DTLS
  // without a udp list. While draining, these are offered when drain-alternate-server is not.
  std::vector<protocol::transport_address> alternate_servers;
  std::vector<protocol::transport_address> udp_alternate_servers;
  std::vector<protocol::transport_address> tcp_alternate_servers;
  std::vector<protocol::transport_address> tls_alternate_servers;
  // Prometheus metrics (and / for liveness, /ready for readiness).
  bool prometheus = false;
  protocol::transport_address prometheus_address = protocol::transport_address::v4(0, 9641);
  std::string prometheus_path = "/metrics";
  std::string admin_api_key;  // set: the sessions API on the metrics listener
  // WebRTC signaling service (server/signaling/): on when signaling_port is set.
  std::optional<std::uint16_t> signaling_port;
  protocol::transport_address signaling_address = protocol::transport_address::v4(0, 0);
  std::string signaling_api_key;  // empty: /ice-servers answers 404
  unsigned signaling_credential_ttl = 86400;
  std::vector<std::string> signaling_ice_urls;  // empty: built from the listeners
  unsigned signaling_max_message = 65536;
  unsigned signaling_rooms_per_ip = 10;
  unsigned signaling_peers_per_room = 8;
  unsigned signaling_connections_per_ip = 32;
  unsigned signaling_idle_timeout = 60;
  bool signaling_demo = true;
  // mDNS/DNS-SD announcement through avahi-daemon.
  bool mdns = false;
  std::string mdns_name;  // empty: "Turnpike on <host name>"
  // Allocation status keys and traffic publications in coturn's statsdb format.
  std::optional<auth::redis_endpoint> redis_statsdb;
  unsigned redis_lease_ttl = 60;  // fleet quota leases: a crashed server's count lasts this long
  bool use_auth_secret = false;   // TURN REST API
  std::vector<std::string> static_auth_secrets;  // several for rotation
  char rest_api_separator = ':';
  std::string nonce_secret;    // empty: random per process
  unsigned stale_nonce = 600;  // nonce lifetime, seconds; 0: never stale (coturn's meaning)
  std::string server_name;
  // TURN.
  std::vector<protocol::transport_address> relay_ips;  // empty: the listening IPs
  // external-ip: public, or public/private (private = a relay IP); private empty = any.
  std::vector<std::pair<protocol::transport_address, std::optional<protocol::transport_address>>>
      external_ips;
  std::uint16_t min_port = 49152;
  std::uint16_t max_port = 65535;
  bool allow_loopback_peers = false;
  std::vector<protocol::ip_range> allowed_peer_ips;  // coturn ranges "a-b", or CIDR
  std::vector<protocol::ip_range> denied_peer_ips;
  unsigned user_quota = 0;  // 0: unlimited
  unsigned total_quota = 0;
  std::uint64_t max_bps = 0;
  std::uint64_t bps_capacity = 0;  // all relayed traffic; split evenly over the shards
  unsigned max_allocate_lifetime = 3600;
  unsigned channel_lifetime = 600;
  unsigned permission_lifetime = 300;
  // Channel numbers up to 0x7FFF as coturn and RFC 5766 clients use them; false: RFC 8656's
  // 0x4000-0x4FFF only (rfc8656-channel-numbers).
  bool rfc5766_channel_numbers = true;
  bool no_udp_relay = false;
  bool no_tcp_relay = false;
  bool relay_mux = false;  // UDP relays without a socket each (server/net/relays/relay_mux.hpp)
  // Bound channels relayed in the kernel (server/net/relays/kernel_relays.hpp), by XDP in one
  // of its modes or at TC ingress (xdp_any: XDP in a NIC's driver where it has it, else TC).
  bool kernel_relay = false;
  enum class kernel_hook { xdp_any, xdp_native, xdp_generic, tc };
  kernel_hook kernel_relay_mode = kernel_hook::xdp_any;
  // UDP clients on one shard per this many datagrams per second received; 0: the kernel's
  // hash spreads clients over all shards (server/net/shard_packing.hpp).
  std::uint64_t shard_packing = 0;
  // Relay family when the Allocate names none: ipv4, ipv6, or keep (the client's own).
  enum class default_family { ipv4, ipv6, keep } allocation_default_family = default_family::ipv4;
  bool include_reason_string = false;
  // Logging and process.
  log_level level = log_level::info;
  log_format format = log_format::plain;
  std::string log_file;  // empty: none
  bool stdout_log = true;
  bool syslog = false;
  std::string syslog_facility = "user";
  std::string pidfile;
  std::string proc_user;   // set: root is given up for this user once listening
  std::string proc_group;  // with proc_user; empty: the user's own group

  bool tls_enabled() const noexcept { return tls && !cert_file.empty() && !pkey_file.empty(); }
  bool dtls_enabled() const noexcept { return dtls && !cert_file.empty() && !pkey_file.empty(); }

  std::uint16_t effective_alt_port() const noexcept {
    if (alt_listening_port != 0) return alt_listening_port;
    if (listening_port == 0 || listening_port == 65535) return 0;  // no defined alternate
    return static_cast<std::uint16_t>(listening_port + 1);
  }
  friend bool operator==(const server_config&, const server_config&) = default;
};

// One "key[=value]" occurrence and where it came from (line 0: the command line).
struct setting {
  std::string name;
  std::optional<std::string> value;
  std::string file;
  int line = 0;
  std::string note;     // a warning about the line (e.g. a trailing comment was dropped)
  std::string problem;  // why the line cannot be taken (unknown name, missing value)

  // "file:12: " or "command line: ", to start a message about this setting.
  std::string place() const {
    return line == 0 ? std::string("command line: ") : file + ":" + std::to_string(line) + ": ";
  }
  // place() and the option: "file:12: listening-port: " or "command line: --listening-port: ".
  std::string where() const { return place() + (line == 0 ? "--" : "") + name + ": "; }
};

// Splits turnserver.conf text into settings. A line that is not an option Turnpike or coturn
// knows, or lacks a required value, comes back with `problem` set (build_config reports it).
std::vector<setting> parse_config_text(std::string_view text, const std::string& file);
// Reads and parses a file; throws config_error when it cannot be read.
std::vector<setting> read_config_file(const std::string& path);

struct loaded_config {
  server_config cfg;
  std::vector<std::string> warnings;  // e.g. coturn options not implemented yet
  std::vector<std::string> notes;     // e.g. host names and the addresses they resolved to
  std::string source;                 // the file read, or a description
  bool embedded_default = false;      // the built-in demo configuration was used
  std::string demo_password;          // set when embedded_default
};

// Validates and merges: file settings first, command-line settings after. Throws
// config_errors naming file, line, option and reason for every bad line and value. Host names
// are resolved with `resolve` (default: the system resolver, as coturn does).
loaded_config build_config(const std::vector<setting>& from_file,
                           const std::vector<setting>& from_command_line,
                           const host_resolver& resolve = system_resolver);

// The embedded default: loopback listener, realm "turnpike.demo", user "demo" with the
// given password, long-term credentials and FINGERPRINT on.
std::string embedded_default_text(std::string_view demo_password,
                                  std::string_view signaling_api_key = "demo-signaling-key-0000",
                                  std::string_view rest_secret = "demo-rest-secret");

// Where turnserver.conf is looked for when -c is not given (coturn's search, less /etc,
// where coturn's own package keeps its file).
std::vector<std::string> default_config_paths();

// syslog(3) facility code for a name such as "local0" or "LOG_DAEMON"; nullopt if unknown.
std::optional<int> syslog_facility_code(std::string_view name);

// The effective configuration in turnserver.conf syntax (--check-config).
std::string describe(const server_config& cfg);

}  // namespace turnpike::server::config
