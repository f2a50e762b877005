// SPDX-License-Identifier: Apache-2.0
// Reading one setting's value: numbers, ports, flags, addresses, users, levels; every failure
// names the file, the line and the reason.
#include "server/config/values.hpp"

#include <algorithm>
#include <charconv>

#include "server/config/config.hpp"

namespace turnpike::server::config {

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
protocol::transport_address parse_ip_port(const setting& s, std::uint16_t default_port) {
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

}  // namespace turnpike::server::config
