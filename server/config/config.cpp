// SPDX-License-Identifier: Apache-2.0
// Validation of settings into server_config, and the effective-configuration dump.
#include "server/config/config.hpp"

#include <algorithm>

#include <syslog.h>

#include <charconv>
#include <map>
#include <sstream>
#include <unordered_map>

#include "server/config/options.hpp"

namespace turnpike::server::config {
namespace {

[[noreturn]] void fail(const setting& s, const std::string& reason) {
  throw config_error(s.where() + reason);
}

const std::string& need_value(const setting& s) {
  if (!s.value || s.value->empty()) fail(s, "a value is required");
  return *s.value;
}

unsigned long parse_uint(const setting& s, unsigned long min, unsigned long max) {
  const std::string& v = need_value(s);
  unsigned long n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || p != v.data() + v.size() || n < min || n > max) {
    fail(s, "'" + v + "' is not a whole number from " + std::to_string(min) + " to " +
                std::to_string(max));
  }
  return n;
}

std::uint16_t parse_port(const setting& s, bool allow_zero) {
  return static_cast<std::uint16_t>(parse_uint(s, allow_zero ? 0 : 1, 65535));
}

bool parse_flag(const setting& s) {
  if (!s.value || s.value->empty()) return true;
  std::string v = *s.value;
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "1" || v == "yes" || v == "true" || v == "on") return true;
  if (v == "0" || v == "no" || v == "false" || v == "off") return false;
  fail(s, "'" + *s.value + "' is not a yes/no value");
}

protocol::transport_address parse_ip(const setting& s) {
  auto a = protocol::transport_address::parse_ip(need_value(s));
  if (!a) fail(s, "'" + *s.value + "' is not an IPv4 or IPv6 address");
  return *a;
}

// "ip", "ip:port", "[v6]:port" or "v6" (`default_port` when absent).
protocol::transport_address parse_ip_port(const setting& s, std::uint16_t default_port = 3478) {
  const std::string& v = need_value(s);
  std::string ip = v;
  std::string port;
  if (!v.empty() && v.front() == '[') {
    const auto close = v.find(']');
    if (close == std::string::npos) fail(s, "'" + v + "' is not ip[:port]");
    ip = v.substr(1, close - 1);
    if (close + 1 < v.size()) {
      if (v[close + 1] != ':') fail(s, "'" + v + "' is not ip[:port]");
      port = v.substr(close + 2);
    }
  } else if (std::count(v.begin(), v.end(), ':') == 1) {
    ip = v.substr(0, v.find(':'));
    port = v.substr(v.find(':') + 1);
  }
  auto a = protocol::transport_address::parse_ip(ip);
  if (!a) fail(s, "'" + v + "' is not ip[:port]");
  a->port = default_port;
  if (!port.empty()) {
    setting p = s;
    p.value = port;
    a->port = parse_port(p, false);
  }
  return *a;
}

protocol::ip_range parse_range(const setting& s) {
  auto r = protocol::parse_ip_range(need_value(s));
  if (!r) fail(s, "'" + *s.value + "' is not an address, a range a-b, or a CIDR prefix");
  return *r;
}

// coturn: "public" or "public/private".
std::pair<protocol::transport_address, std::optional<protocol::transport_address>>
parse_external_ip(const setting& s) {
  const std::string& v = need_value(s);
  const auto slash = v.find('/');
  auto pub = protocol::transport_address::parse_ip(v.substr(0, slash));
  if (!pub) fail(s, "'" + v + "' is not public-ip or public-ip/private-ip");
  if (slash == std::string::npos) return {*pub, std::nullopt};
  auto priv = protocol::transport_address::parse_ip(v.substr(slash + 1));
  if (!priv || priv->family != pub->family) {
    fail(s, "'" + v + "' is not public-ip or public-ip/private-ip of one family");
  }
  return {*pub, *priv};
}

user_entry parse_user(const setting& s) {
  const std::string& v = need_value(s);
  const auto colon = v.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
    fail(s, "expected name:password or name:0xKEY");
  }
  user_entry u;
  u.name = v.substr(0, colon);
  const std::string secret = v.substr(colon + 1);
  if (secret.size() == 34 && secret.starts_with("0x")) {
    protocol::md5_key key{};
    for (std::size_t i = 0; i < key.size(); ++i) {
      unsigned byte = 0;
      const char* b = secret.data() + 2 + 2 * i;
      const auto [p, ec] = std::from_chars(b, b + 2, byte, 16);
      if (ec != std::errc{} || p != b + 2) fail(s, "key after 0x must be 32 hex digits");
      key[i] = static_cast<std::uint8_t>(byte);
    }
    u.key = key;
  } else {
    u.password = secret;
  }
  if (!protocol::opaque_string(u.name)) fail(s, "user name has characters SASLprep forbids");
  return u;
}

log_level parse_level(const setting& s) {
  const std::string& v = need_value(s);
  if (v == "trace") return log_level::trace;
  if (v == "debug") return log_level::debug;
  if (v == "info") return log_level::info;
  if (v == "warning" || v == "warn") return log_level::warning;
  if (v == "error") return log_level::error;
  fail(s, "'" + v + "' is not one of trace, debug, info, warning, error");
}

void check_facility(const setting& s) {
  if (!syslog_facility_code(need_value(s))) fail(s, "'" + *s.value + "' is not a syslog facility");
}

// A Bearer key: long enough not to be guessed, and sendable in a header.
std::string parse_api_key(const setting& s, const std::string& guards) {
  const auto& v = need_value(s);
  if (v.size() < 16) fail(s, "must be at least 16 characters (it guards " + guards + ")");
  for (const char ch : v) {
    if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) {
      fail(s, "must be printable characters without spaces (it travels in a header)");
    }
  }
  return v;
}

using handler = void (*)(server_config&, const setting&);

// One handler per supported option name; options.cpp lists the same names.
const std::unordered_map<std::string_view, handler>& handlers() {
  static const std::unordered_map<std::string_view, handler> table{
      // Listeners.
      {"listening-port",
       [](server_config& c, const setting& s) { c.listening_port = parse_port(s, true); }},
      {"alt-listening-port",
       [](server_config& c, const setting& s) { c.alt_listening_port = parse_port(s, true); }},
      {"listening-ip",
       [](server_config& c, const setting& s) { c.listening_ips.push_back(parse_ip(s)); }},
      {"relay-threads",
       [](server_config& c, const setting& s) {
         c.relay_threads = static_cast<unsigned>(parse_uint(s, 0, 256));
       }},
      {"no-udp", [](server_config& c, const setting& s) { c.udp = !parse_flag(s); }},
      {"no-tcp", [](server_config& c, const setting& s) { c.tcp = !parse_flag(s); }},
      {"no-tls", [](server_config& c, const setting& s) { c.tls = !parse_flag(s); }},
      {"no-dtls", [](server_config& c, const setting& s) { c.dtls = !parse_flag(s); }},
      {"dtls", [](server_config& c, const setting& s) { c.dtls = parse_flag(s); }},
      {"CA-file", [](server_config& c, const setting& s) { c.ca_file = need_value(s); }},
      {"tls-listening-port",
       [](server_config& c, const setting& s) { c.tls_listening_port = parse_port(s, true); }},
      {"cert", [](server_config& c, const setting& s) { c.cert_file = need_value(s); }},
      {"pkey", [](server_config& c, const setting& s) { c.pkey_file = need_value(s); }},
      {"pkey-pwd", [](server_config& c, const setting& s) { c.pkey_password = need_value(s); }},
      {"cipher-list", [](server_config& c, const setting& s) { c.cipher_list = need_value(s); }},
      {"no-tlsv1_2", [](server_config& c, const setting& s) { c.no_tlsv1_2 = parse_flag(s); }},
      {"stream-frame-timeout",
       [](server_config& c, const setting& s) {
         c.stream_frame_timeout = static_cast<unsigned>(parse_uint(s, 1, 3600));
       }},
      {"stream-idle-timeout",
       [](server_config& c, const setting& s) {
         c.stream_idle_timeout = static_cast<unsigned>(parse_uint(s, 1, 86400));
       }},
      {"max-connections-per-ip",
       [](server_config& c, const setting& s) {
         c.max_connections_per_ip = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
       }},
      {"unauthenticated-answers-per-ip",
       [](server_config& c, const setting& s) {
         c.unauthenticated_per_ip = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
       }},
      {"unauthenticated-answers-per-proven-ip",
       [](server_config& c, const setting& s) {
         c.unauthenticated_per_proven_ip = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
       }},
      {"unauthorized-ratelimit-rps",
       [](server_config& c, const setting& s) {
         c.unauthenticated_per_ip = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
       }},
      {"failed-auth-per-user",
       [](server_config& c, const setting& s) {
         c.failed_auth_per_user = static_cast<unsigned>(parse_uint(s, 0, 1u << 20));
       }},
      // STUN behaviour.
      {"no-rfc5780", [](server_config& c, const setting& s) { c.rfc5780 = !parse_flag(s); }},
      {"rfc5780", [](server_config& c, const setting& s) { c.rfc5780 = parse_flag(s); }},
      {"no-stun-backward-compatibility",
       [](server_config& c, const setting& s) { c.stun_backward_compatibility = !parse_flag(s); }},
      {"rfc3489-compatibility",
       [](server_config& c, const setting& s) { c.stun_backward_compatibility = parse_flag(s); }},
      {"fingerprint", [](server_config& c, const setting& s) { c.fingerprint = parse_flag(s); }},
      {"software-attribute",
       [](server_config& c, const setting& s) { c.software_attribute = parse_flag(s); }},
      {"no-software-attribute",
       [](server_config& c, const setting& s) { c.software_attribute = !parse_flag(s); }},
      {"prod", [](server_config& c, const setting& s) { c.software_attribute = !parse_flag(s); }},
      {"stun-only", [](server_config& c, const setting& s) { c.stun_only = parse_flag(s); }},
      {"no-stun", [](server_config& c, const setting& s) { c.no_stun = parse_flag(s); }},
      {"log-binding", [](server_config& c, const setting& s) { c.log_binding = parse_flag(s); }},
      {"include-reason-string",
       [](server_config& c, const setting& s) { c.include_reason_string = parse_flag(s); }},
      // Credentials.
      {"realm",
       [](server_config& c, const setting& s) {
         c.realm = need_value(s);
         if (c.realm.size() > 763) fail(s, "realm longer than 763 bytes");
       }},
      {"user", [](server_config& c, const setting& s) { c.users.push_back(parse_user(s)); }},
      {"lt-cred-mech", [](server_config& c, const setting& s) { c.lt_cred_mech = parse_flag(s); }},
      {"no-auth", [](server_config& c, const setting& s) { c.no_auth = parse_flag(s); }},
      {"server-name", [](server_config& c, const setting& s) { c.server_name = need_value(s); }},
      {"use-auth-secret",
       [](server_config& c, const setting& s) { c.use_auth_secret = parse_flag(s); }},
      {"static-auth-secret",
       [](server_config& c, const setting& s) { c.static_auth_secrets.push_back(need_value(s)); }},
      {"rest-api-separator",
       [](server_config& c, const setting& s) {
         if (need_value(s).size() != 1) fail(s, "must be a single character");
         c.rest_api_separator = s.value->front();
       }},
      {"nonce-secret", [](server_config& c, const setting& s) { c.nonce_secret = need_value(s); }},
      {"stateless-nonce-secret",
       [](server_config& c, const setting& s) { c.nonce_secret = need_value(s); }},
      {"redis-userdb",
       [](server_config& c, const setting& s) {
         try {
           c.redis_userdb = auth::parse_redis_endpoint(need_value(s));
         } catch (const std::invalid_argument& e) {
           fail(s, e.what());
         }
       }},
      {"userdb",
       [](server_config& c, const setting& s) {
         c.sql_userdb = {auth::sql_kind::sqlite, need_value(s)};
       }},
      {"db",
       [](server_config& c, const setting& s) {
         c.sql_userdb = {auth::sql_kind::sqlite, need_value(s)};
       }},
      {"psql-userdb",
       [](server_config& c, const setting& s) {
         c.sql_userdb = {auth::sql_kind::postgresql, need_value(s)};
       }},
      {"sql-userdb",
       [](server_config& c, const setting& s) {
         c.sql_userdb = {auth::sql_kind::postgresql, need_value(s)};
       }},
      {"prometheus", [](server_config& c, const setting& s) { c.prometheus = parse_flag(s); }},
      {"drain-grace",
       [](server_config& c, const setting& s) {
         c.drain_grace = static_cast<unsigned>(parse_uint(s, 0, 86400));
       }},
      {"drain-alternate-server",
       [](server_config& c, const setting& s) { c.drain_alternate = parse_ip_port(s); }},
      {"alternate-server",
       [](server_config& c, const setting& s) { c.alternate_servers.push_back(parse_ip_port(s)); }},
      {"udp-alternate-server",
       [](server_config& c, const setting& s) {
         c.udp_alternate_servers.push_back(parse_ip_port(s));
       }},
      {"tcp-alternate-server",
       [](server_config& c, const setting& s) {
         c.tcp_alternate_servers.push_back(parse_ip_port(s));
       }},
      {"tls-alternate-server",
       [](server_config& c, const setting& s) {
         c.tls_alternate_servers.push_back(parse_ip_port(s, 5349));
       }},
      {"prometheus-port",
       [](server_config& c, const setting& s) { c.prometheus_address.port = parse_port(s, true); }},
      {"prometheus-address",
       [](server_config& c, const setting& s) {
         const auto port = c.prometheus_address.port;
         c.prometheus_address = parse_ip(s);
         c.prometheus_address.port = port;
       }},
      {"prometheus-path",
       [](server_config& c, const setting& s) {
         const auto& v = need_value(s);
         if (v.empty() || v.front() != '/' || v == "/" || v == "/ready") {
           fail(s, "must start with / and not be / or /ready");
         }
         c.prometheus_path = v;
       }},
      {"signaling-port",
       [](server_config& c, const setting& s) { c.signaling_port = parse_port(s, true); }},
      {"signaling-address",
       [](server_config& c, const setting& s) { c.signaling_address = parse_ip(s); }},
      {"signaling-api-key",
       [](server_config& c, const setting& s) {
         c.signaling_api_key = parse_api_key(s, "TURN credentials");
       }},
      {"admin-api-key",
       [](server_config& c, const setting& s) {
         c.admin_api_key = parse_api_key(s, "every allocation");
       }},
      {"signaling-credential-ttl",
       [](server_config& c, const setting& s) {
         c.signaling_credential_ttl = static_cast<unsigned>(parse_uint(s, 60, 7 * 86400));
       }},
      {"signaling-ice-url",
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
       }},
      {"signaling-max-message",
       [](server_config& c, const setting& s) {
         c.signaling_max_message = static_cast<unsigned>(parse_uint(s, 1024, 1 << 20));
       }},
      {"signaling-rooms-per-ip",
       [](server_config& c, const setting& s) {
         c.signaling_rooms_per_ip = static_cast<unsigned>(parse_uint(s, 1, 100000));
       }},
      {"signaling-peers-per-room",
       [](server_config& c, const setting& s) {
         c.signaling_peers_per_room = static_cast<unsigned>(parse_uint(s, 2, 1000));
       }},
      {"signaling-connections-per-ip",
       [](server_config& c, const setting& s) {
         c.signaling_connections_per_ip = static_cast<unsigned>(parse_uint(s, 1, 100000));
       }},
      {"signaling-idle-timeout",
       [](server_config& c, const setting& s) {
         c.signaling_idle_timeout = static_cast<unsigned>(parse_uint(s, 2, 3600));
       }},
      {"no-signaling-demo",
       [](server_config& c, const setting& s) { c.signaling_demo = !parse_flag(s); }},
      {"mdns", [](server_config& c, const setting& s) { c.mdns = parse_flag(s); }},
      {"mdns-name",
       [](server_config& c, const setting& s) {
         const auto& v = need_value(s);
         if (v.size() > 63) fail(s, "must be at most 63 bytes (one DNS label)");
         for (const char ch : v) {
           if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
             fail(s, "must not contain control characters");
           }
         }
         c.mdns_name = v;
       }},
      {"redis-statsdb",
       [](server_config& c, const setting& s) {
         try {
           c.redis_statsdb = auth::parse_redis_endpoint(need_value(s));
         } catch (const std::invalid_argument& e) {
           fail(s, e.what());
         }
       }},
      {"redis-lease-ttl",
       [](server_config& c, const setting& s) {
         c.redis_lease_ttl = static_cast<unsigned>(parse_uint(s, 3, 3600));
       }},
      {"redis-cache-ttl",
       [](server_config& c, const setting& s) {
         c.redis_cache_ttl = static_cast<unsigned>(parse_uint(s, 0, 3600));
       }},
      {"stale-nonce",
       [](server_config& c, const setting& s) {
         // As in coturn: bare means the default, 0 means a nonce never goes stale.
         c.stale_nonce = s.value ? static_cast<unsigned>(parse_uint(s, 0, 86400)) : 600;
       }},
      // TURN.
      {"relay-ip", [](server_config& c, const setting& s) { c.relay_ips.push_back(parse_ip(s)); }},
      {"external-ip",
       [](server_config& c, const setting& s) { c.external_ips.push_back(parse_external_ip(s)); }},
      {"min-port", [](server_config& c, const setting& s) { c.min_port = parse_port(s, false); }},
      {"max-port", [](server_config& c, const setting& s) { c.max_port = parse_port(s, false); }},
      {"allow-loopback-peers",
       [](server_config& c, const setting& s) { c.allow_loopback_peers = parse_flag(s); }},
      {"allowed-peer-ip",
       [](server_config& c, const setting& s) { c.allowed_peer_ips.push_back(parse_range(s)); }},
      {"denied-peer-ip",
       [](server_config& c, const setting& s) { c.denied_peer_ips.push_back(parse_range(s)); }},
      {"user-quota",
       [](server_config& c, const setting& s) {
         c.user_quota = static_cast<unsigned>(parse_uint(s, 0, 1u << 30));
       }},
      {"total-quota",
       [](server_config& c, const setting& s) {
         c.total_quota = static_cast<unsigned>(parse_uint(s, 0, 1u << 30));
       }},
      {"max-bps",
       [](server_config& c, const setting& s) { c.max_bps = parse_uint(s, 0, 1ul << 40); }},
      {"bps-capacity",
       [](server_config& c, const setting& s) { c.bps_capacity = parse_uint(s, 0, 1ul << 40); }},
      {"max-allocate-lifetime",
       [](server_config& c, const setting& s) {
         c.max_allocate_lifetime = static_cast<unsigned>(parse_uint(s, 1, 86400));
       }},
      {"channel-lifetime",
       [](server_config& c, const setting& s) {
         c.channel_lifetime = static_cast<unsigned>(parse_uint(s, 1, 86400));
       }},
      {"permission-lifetime",
       [](server_config& c, const setting& s) {
         c.permission_lifetime = static_cast<unsigned>(parse_uint(s, 1, 86400));
       }},
      {"no-udp-relay", [](server_config& c, const setting& s) { c.no_udp_relay = parse_flag(s); }},
      {"no-tcp-relay", [](server_config& c, const setting& s) { c.no_tcp_relay = parse_flag(s); }},
      {"relay-mux", [](server_config& c, const setting& s) { c.relay_mux = parse_flag(s); }},
      {"shard-packing",
       [](server_config& c, const setting& s) { c.shard_packing = parse_uint(s, 0, 100000000); }},
      {"keep-address-family",
       [](server_config& c, const setting& s) {
         if (parse_flag(s)) c.allocation_default_family = server_config::default_family::keep;
       }},
      {"allocation-default-address-family",
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
       }},
      {"rfc5766-channel-numbers",
       [](server_config& c, const setting& s) { c.rfc5766_channel_numbers = parse_flag(s); }},
      {"rfc8656-channel-numbers",
       [](server_config& c, const setting& s) { c.rfc5766_channel_numbers = !parse_flag(s); }},
      // Logging and process.
      {"verbose",
       [](server_config& c, const setting& s) {
         if (parse_flag(s)) c.level = log_level::debug;
       }},
      {"Verbose",
       [](server_config& c, const setting& s) {
         if (parse_flag(s)) c.level = log_level::trace;
       }},
      {"log-level", [](server_config& c, const setting& s) { c.level = parse_level(s); }},
      {"log-min-level", [](server_config& c, const setting& s) { c.level = parse_level(s); }},
      {"log-format",
       [](server_config& c, const setting& s) {
         const std::string& v = need_value(s);
         if (v == "plain")
           c.format = log_format::plain;
         else if (v == "json")
           c.format = log_format::json;
         else
           fail(s, "'" + v + "' is not plain or json");
       }},
      {"log-file",
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
       }},
      {"no-stdout-log", [](server_config& c, const setting& s) { c.stdout_log = !parse_flag(s); }},
      {"syslog", [](server_config& c, const setting& s) { c.syslog = parse_flag(s); }},
      {"syslog-facility",
       [](server_config& c, const setting& s) {
         check_facility(s);
         c.syslog_facility = *s.value;
       }},
      {"pidfile", [](server_config& c, const setting& s) { c.pidfile = need_value(s); }},
      {"proc-user", [](server_config& c, const setting& s) { c.proc_user = need_value(s); }},
      {"proc-group", [](server_config& c, const setting& s) { c.proc_group = need_value(s); }},
  };
  return table;
}

void apply(server_config& c, const setting& s) {
  const auto it = handlers().find(s.name);
  if (it == handlers().end()) fail(s, "option has no handler (internal error)");
  it->second(c, s);
}

}  // namespace

std::optional<int> syslog_facility_code(std::string_view name) {
  std::string n(name);
  if (n.starts_with("LOG_") || n.starts_with("log_")) n = n.substr(4);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, int> codes{
      {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
      {"daemon", LOG_DAEMON}, {"ftp", LOG_FTP},           {"kern", LOG_KERN},
      {"lpr", LOG_LPR},       {"mail", LOG_MAIL},         {"news", LOG_NEWS},
      {"syslog", LOG_SYSLOG}, {"user", LOG_USER},         {"uucp", LOG_UUCP},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},     {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},     {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  const auto it = codes.find(n);
  if (it == codes.end()) return std::nullopt;
  return it->second;
}

config_errors::config_errors(std::vector<std::string> errors_in,
                             std::vector<std::string> warnings_in)
    : config_error([&] {
        std::string all;
        for (const auto& e : errors_in) all += (all.empty() ? "" : "\n") + e;
        return all;
      }()),
      errors(std::move(errors_in)),
      warnings(std::move(warnings_in)) {}

namespace {

void resolve_redis_host(std::optional<auth::redis_endpoint>& db, const setting* from,
                        const host_resolver& resolve, std::vector<std::string>& notes) {
  if (db && from != nullptr) db->host = resolve_host(*from, db->host, resolve, notes);
}

}  // namespace

loaded_config build_config(const std::vector<setting>& from_file,
                           const std::vector<setting>& from_command_line,
                           const host_resolver& resolve) {
  loaded_config out;
  std::vector<std::string> errors;
  // A list key given on the command line replaces that list from the file.
  auto overridden = [&](const std::string& name) {
    for (const setting& s : from_command_line) {
      if (s.name == name) return true;
    }
    return false;
  };
  const setting* redis_userdb = nullptr;
  const setting* redis_statsdb = nullptr;
  auto take = [&](const setting& s, bool from_file_side) {
    if (!s.note.empty()) out.warnings.push_back(s.where() + s.note);
    if (!s.problem.empty()) {
      errors.push_back(s.place() + s.problem);
      return;
    }
    const option_spec* spec = find_option(s.name);
    if (spec == nullptr) fail(s, "unknown option");
    std::string advice = spec->help.empty() ? "" : ": " + std::string(spec->help);
    switch (spec->status) {
      case option_status::supported:
        break;
      case option_status::not_yet:
        out.warnings.push_back(s.where() + "coturn option not supported by Turnpike yet; ignored" +
                               advice);
        return;
      case option_status::turnpike_default:
        out.warnings.push_back(s.where() + "already what Turnpike does" + advice +
                               "; the line can go");
        return;
      case option_status::removed:
        out.warnings.push_back(s.where() + "no longer a coturn option" + advice + "; ignored");
        return;
    }
    if (from_file_side && spec->kind == option_kind::list && overridden(s.name)) return;
    apply(out.cfg, resolve_host_names(s, resolve, out.notes));
    if (s.name == "redis-userdb") redis_userdb = &s;
    if (s.name == "redis-statsdb") redis_statsdb = &s;
  };
  auto take_all = [&](const std::vector<setting>& list, bool from_file_side) {
    for (const setting& s : list) {
      try {
        take(s, from_file_side);
      } catch (const config_error& e) {
        errors.push_back(e.what());
      }
    }
  };
  take_all(from_file, true);
  take_all(from_command_line, false);

  server_config& c = out.cfg;
  auto check = [&](bool bad, const std::string& reason) {
    if (bad) errors.push_back(reason);
  };
  try {
    resolve_redis_host(c.redis_userdb, redis_userdb, resolve, out.notes);
    resolve_redis_host(c.redis_statsdb, redis_statsdb, resolve, out.notes);
  } catch (const config_error& e) {
    errors.push_back(e.what());
  }
  check(!c.udp && !c.tcp, "no-udp and no-tcp together leave no listener");
  check(c.stun_only && c.no_stun, "stun-only and no-stun together answer nothing");
  check(c.lt_cred_mech && c.no_auth, "lt-cred-mech and no-auth contradict");
  check(c.min_port > c.max_port, "min-port is above max-port");
  check(c.use_auth_secret && c.static_auth_secrets.empty() && !c.redis_userdb && !c.sql_userdb,
        "use-auth-secret needs a static-auth-secret or a user database (redis-userdb, userdb, "
        "psql-userdb) holding the realm's secrets");
  check(c.redis_userdb && c.sql_userdb,
        "give one user database: redis-userdb, or userdb / psql-userdb (redis-statsdb may go "
        "with either)");
  if (!c.signaling_api_key.empty()) {
    check(!c.signaling_port, "signaling-api-key needs signaling-port");
    check(!c.use_auth_secret || c.static_auth_secrets.empty(),
          "signaling-api-key needs use-auth-secret and a static-auth-secret: /ice-servers signs "
          "TURN REST credentials with it");
  }
  check(!c.proc_group.empty() && c.proc_user.empty(), "proc-group needs proc-user");
  check(!c.admin_api_key.empty() && !c.prometheus,
        "admin-api-key needs prometheus: the sessions API is served on the metrics listener");
  check(c.listening_port != 0 && c.alt_listening_port == c.listening_port,
        "alt-listening-port equals listening-port");
  if (!errors.empty()) throw config_errors(std::move(errors), std::move(out.warnings));
  return out;
}

std::string describe(const server_config& c) {
  std::ostringstream o;
  auto flag = [&](const char* name, bool on) {
    if (on) o << name << "\n";
  };
  o << "# Effective Turnpike configuration\n";
  if (c.listening_ips.empty()) o << "# listening-ip: every interface address\n";
  for (const auto& ip : c.listening_ips) o << "listening-ip=" << ip.ip_string() << "\n";
  o << "listening-port=" << c.listening_port << "\n";
  o << "alt-listening-port=" << c.effective_alt_port() << "\n";
  if (c.relay_threads == 0) o << "# relay-threads=0: one shard per core\n";
  o << "relay-threads=" << c.relay_threads << "\n";
  flag("no-udp", !c.udp);
  flag("no-tcp", !c.tcp);
  flag("no-tls", !c.tls);
  flag("no-dtls", !c.dtls);
  o << "tls-listening-port=" << c.tls_listening_port << "\n";
  if (!c.cert_file.empty()) o << "cert=" << c.cert_file << "\n";
  if (!c.pkey_file.empty()) o << "pkey=" << c.pkey_file << "\n";
  if (!c.pkey_password.empty()) o << "pkey-pwd=<hidden>\n";
  if (!c.cipher_list.empty()) o << "cipher-list=" << c.cipher_list << "\n";
  if (!c.ca_file.empty()) o << "CA-file=" << c.ca_file << "\n";
  flag("no-tlsv1_2", c.no_tlsv1_2);
  o << "stream-frame-timeout=" << c.stream_frame_timeout << "\n";
  o << "stream-idle-timeout=" << c.stream_idle_timeout << "\n";
  o << "max-connections-per-ip=" << c.max_connections_per_ip << "\n";
  o << "unauthenticated-answers-per-ip=" << c.unauthenticated_per_ip << "\n";
  o << "unauthenticated-answers-per-proven-ip=" << c.unauthenticated_per_proven_ip << "\n";
  o << "failed-auth-per-user=" << c.failed_auth_per_user << "\n";
  flag("no-rfc5780", !c.rfc5780);
  flag("no-stun-backward-compatibility", !c.stun_backward_compatibility);
  flag("fingerprint", c.fingerprint);
  o << (c.software_attribute ? "software-attribute\n" : "no-software-attribute\n");
  flag("stun-only", c.stun_only);
  flag("no-stun", c.no_stun);
  flag("log-binding", c.log_binding);
  if (!c.realm.empty()) o << "realm=" << c.realm << "\n";
  for (const auto& u : c.users) o << "user=" << u.name << ":<hidden>\n";
  flag("lt-cred-mech", c.lt_cred_mech);
  flag("no-auth", c.no_auth);
  flag("use-auth-secret", c.use_auth_secret);
  for (std::size_t i = 0; i < c.static_auth_secrets.size(); ++i) {
    o << "static-auth-secret=<hidden>\n";
  }
  if (c.rest_api_separator != ':') o << "rest-api-separator=" << c.rest_api_separator << "\n";
  if (!c.nonce_secret.empty()) o << "nonce-secret=<hidden>\n";
  o << "drain-grace=" << c.drain_grace << "\n";
  if (c.drain_alternate) o << "drain-alternate-server=" << c.drain_alternate->to_string() << "\n";
  for (const auto& [name, list] : {std::pair{"alternate-server", &c.alternate_servers},
                                   std::pair{"udp-alternate-server", &c.udp_alternate_servers},
                                   std::pair{"tcp-alternate-server", &c.tcp_alternate_servers},
                                   std::pair{"tls-alternate-server", &c.tls_alternate_servers}}) {
    for (const auto& a : *list) o << name << "=" << a.to_string() << "\n";
  }
  if (c.prometheus) {
    o << "prometheus\nprometheus-address=" << c.prometheus_address.ip_string()
      << "\nprometheus-port=" << c.prometheus_address.port
      << "\nprometheus-path=" << c.prometheus_path << "\n";
    if (!c.admin_api_key.empty()) o << "# admin-api-key is set (hidden): the sessions API is on\n";
  }
  if (c.signaling_port) {
    o << "signaling-port=" << *c.signaling_port
      << "\nsignaling-address=" << c.signaling_address.ip_string() << "\n";
    if (!c.signaling_api_key.empty()) o << "# signaling-api-key is set (hidden)\n";
    o << "signaling-credential-ttl=" << c.signaling_credential_ttl << "\n";
    for (const auto& u : c.signaling_ice_urls) o << "signaling-ice-url=" << u << "\n";
    o << "signaling-max-message=" << c.signaling_max_message
      << "\nsignaling-rooms-per-ip=" << c.signaling_rooms_per_ip
      << "\nsignaling-peers-per-room=" << c.signaling_peers_per_room
      << "\nsignaling-connections-per-ip=" << c.signaling_connections_per_ip
      << "\nsignaling-idle-timeout=" << c.signaling_idle_timeout << "\n";
    flag("no-signaling-demo", !c.signaling_demo);
  }
  flag("mdns", c.mdns);
  if (!c.mdns_name.empty()) o << "mdns-name=\"" << c.mdns_name << "\"\n";
  if (c.redis_statsdb) {
    o << "redis-statsdb=\"ip=" << c.redis_statsdb->host << " port=" << c.redis_statsdb->port
      << " dbname=" << c.redis_statsdb->db << "\"\n";
  }
  if (c.sql_userdb) {
    o << (c.sql_userdb->kind == auth::sql_kind::sqlite ? "userdb=" : "psql-userdb=\"");
    if (c.sql_userdb->kind == auth::sql_kind::sqlite) {
      o << c.sql_userdb->target << "\n";
    } else {
      const std::string shown = auth::describe_sql_target(c.sql_userdb->kind, c.sql_userdb->target);
      o << shown.substr(shown.find(' ') + 1) << "\"\n";
    }
    o << "redis-cache-ttl=" << c.redis_cache_ttl << "\n";
  }
  if (c.redis_userdb) {
    const auto& r = *c.redis_userdb;
    o << "redis-userdb=\"ip=" << r.host << " port=" << r.port << " dbname=" << r.db;
    if (!r.user.empty()) o << " user=" << r.user;
    if (!r.password.empty()) o << " password=<hidden>";
    o << " connect_timeout=" << r.connect_timeout.count() << "\"\n";
    o << "redis-cache-ttl=" << c.redis_cache_ttl << "\n";
    o << "redis-lease-ttl=" << c.redis_lease_ttl << "\n";
  }
  o << "stale-nonce=" << c.stale_nonce << "\n";
  if (!c.server_name.empty()) o << "server-name=" << c.server_name << "\n";
  for (const auto& ip : c.relay_ips) o << "relay-ip=" << ip.ip_string() << "\n";
  for (const auto& [pub, priv] : c.external_ips) {
    o << "external-ip=" << pub.ip_string();
    if (priv) o << "/" << priv->ip_string();
    o << "\n";
  }
  o << "min-port=" << c.min_port << "\nmax-port=" << c.max_port << "\n";
  flag("allow-loopback-peers", c.allow_loopback_peers);
  auto range = [&](const char* name, const protocol::ip_range& r) {
    o << name << "=" << r.first.ip_string();
    if (!(r.first == r.last)) o << "-" << r.last.ip_string();
    o << "\n";
  };
  for (const auto& r : c.allowed_peer_ips) range("allowed-peer-ip", r);
  for (const auto& r : c.denied_peer_ips) range("denied-peer-ip", r);
  o << "user-quota=" << c.user_quota << "\ntotal-quota=" << c.total_quota << "\n";
  o << "max-bps=" << c.max_bps << "\nbps-capacity=" << c.bps_capacity << "\n";
  o << "max-allocate-lifetime=" << c.max_allocate_lifetime << "\n";
  o << "channel-lifetime=" << c.channel_lifetime << "\n";
  o << "permission-lifetime=" << c.permission_lifetime << "\n";
  flag("rfc8656-channel-numbers", !c.rfc5766_channel_numbers);
  flag("no-udp-relay", c.no_udp_relay);
  flag("no-tcp-relay", c.no_tcp_relay);
  flag("relay-mux", c.relay_mux);
  if (c.shard_packing != 0) o << "shard-packing=" << c.shard_packing << "\n";
  static const char* const families[] = {"ipv4", "ipv6", "keep"};
  o << "allocation-default-address-family="
    << families[static_cast<int>(c.allocation_default_family)] << "\n";
  flag("include-reason-string", c.include_reason_string);
  static const char* const levels[] = {"trace", "debug", "info", "warning", "error"};
  o << "log-level=" << levels[static_cast<int>(c.level)] << "\n";
  o << "log-format=" << (c.format == log_format::json ? "json" : "plain") << "\n";
  if (!c.log_file.empty()) o << "log-file=" << c.log_file << "\n";
  flag("no-stdout-log", !c.stdout_log);
  flag("syslog", c.syslog);
  if (c.syslog) o << "syslog-facility=" << c.syslog_facility << "\n";
  if (!c.pidfile.empty()) o << "pidfile=" << c.pidfile << "\n";
  if (!c.proc_user.empty()) o << "proc-user=" << c.proc_user << "\n";
  if (!c.proc_group.empty()) o << "proc-group=" << c.proc_group << "\n";
  return o.str();
}

}  // namespace turnpike::server::config
