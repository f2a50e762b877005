// SPDX-License-Identifier: Apache-2.0
// Validation of settings into server_config, and the effective-configuration dump.
#include "server/config/config.hpp"

#include <syslog.h>

#include <charconv>
#include <map>
#include <sstream>

#include "server/config/options.hpp"

namespace turnpike::server::config {
namespace {

std::string where(const setting& s) {
  std::string w =
      s.line == 0 ? std::string("command line: --") : s.file + ":" + std::to_string(s.line) + ": ";
  return w + s.name + ": ";
}

[[noreturn]] void fail(const setting& s, const std::string& reason) {
  throw config_error(where(s) + reason);
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

void apply(server_config& c, const setting& s) {
  const std::string& n = s.name;
  if (n == "listening-port")
    c.listening_port = parse_port(s, true);
  else if (n == "alt-listening-port")
    c.alt_listening_port = parse_port(s, true);
  else if (n == "listening-ip")
    c.listening_ips.push_back(parse_ip(s));
  else if (n == "relay-threads")
    c.relay_threads = static_cast<unsigned>(parse_uint(s, 0, 256));
  else if (n == "no-udp")
    c.udp = !parse_flag(s);
  else if (n == "no-tcp")
    c.tcp = !parse_flag(s);
  else if (n == "no-rfc5780")
    c.rfc5780 = !parse_flag(s);
  else if (n == "no-stun-backward-compatibility")
    c.stun_backward_compatibility = !parse_flag(s);
  else if (n == "response-origin-only-with-rfc5780")
    (void)parse_flag(s);
  else if (n == "fingerprint")
    c.fingerprint = parse_flag(s);
  else if (n == "software-attribute")
    c.software_attribute = parse_flag(s);
  else if (n == "no-software-attribute" || n == "prod")
    c.software_attribute = !parse_flag(s);
  else if (n == "stun-only")
    c.stun_only = parse_flag(s);
  else if (n == "no-stun")
    c.no_stun = parse_flag(s);
  else if (n == "log-binding")
    c.log_binding = parse_flag(s);
  else if (n == "realm") {
    c.realm = need_value(s);
    if (c.realm.size() > 763) fail(s, "realm longer than 763 bytes");
  } else if (n == "user")
    c.users.push_back(parse_user(s));
  else if (n == "lt-cred-mech")
    c.lt_cred_mech = parse_flag(s);
  else if (n == "no-auth")
    c.no_auth = parse_flag(s);
  else if (n == "server-name")
    c.server_name = need_value(s);
  else if (n == "verbose") {
    if (parse_flag(s)) c.level = log_level::debug;
  } else if (n == "Verbose") {
    if (parse_flag(s)) c.level = log_level::trace;
  } else if (n == "log-level")
    c.level = parse_level(s);
  else if (n == "log-format") {
    const std::string& v = need_value(s);
    if (v == "plain")
      c.format = log_format::plain;
    else if (v == "json")
      c.format = log_format::json;
    else
      fail(s, "'" + v + "' is not plain or json");
  } else if (n == "log-file") {
    const std::string& v = need_value(s);
    if (v == "stdout" || v == "-")
      c.stdout_log = true;
    else if (v == "syslog")
      c.syslog = true;
    else
      c.log_file = v;
  } else if (n == "no-stdout-log")
    c.stdout_log = !parse_flag(s);
  else if (n == "syslog")
    c.syslog = parse_flag(s);
  else if (n == "syslog-facility") {
    check_facility(s);
    c.syslog_facility = *s.value;
  } else if (n == "simple-log" || n == "new-log-timestamp" || n == "no-cli")
    (void)parse_flag(s);
  else if (n == "pidfile")
    c.pidfile = need_value(s);
  else
    fail(s, "option has no handler (internal error)");
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

loaded_config build_config(const std::vector<setting>& from_file,
                           const std::vector<setting>& from_command_line) {
  loaded_config out;
  // A list key given on the command line replaces that list from the file.
  auto overridden = [&](const std::string& name) {
    for (const setting& s : from_command_line) {
      if (s.name == name) return true;
    }
    return false;
  };
  auto take = [&](const setting& s, bool from_file_side) {
    const option_spec* spec = find_option(s.name);
    if (spec == nullptr) fail(s, "unknown option");
    if (spec->status == option_status::not_yet) {
      out.warnings.push_back(where(s) + "coturn option not supported by Turnpike yet; ignored");
      return;
    }
    if (from_file_side && spec->kind == option_kind::list && overridden(s.name)) return;
    apply(out.cfg, s);
  };
  for (const setting& s : from_file) take(s, true);
  for (const setting& s : from_command_line) take(s, false);

  server_config& c = out.cfg;
  if (!c.udp && !c.tcp) {
    throw config_error("no-udp and no-tcp together leave no listener");
  }
  if (c.stun_only && c.no_stun) throw config_error("stun-only and no-stun together answer nothing");
  if (c.lt_cred_mech && c.no_auth) throw config_error("lt-cred-mech and no-auth contradict");
  if (c.listening_port != 0 && c.alt_listening_port == c.listening_port) {
    throw config_error("alt-listening-port equals listening-port");
  }
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
  if (!c.server_name.empty()) o << "server-name=" << c.server_name << "\n";
  static const char* const levels[] = {"trace", "debug", "info", "warning", "error"};
  o << "log-level=" << levels[static_cast<int>(c.level)] << "\n";
  o << "log-format=" << (c.format == log_format::json ? "json" : "plain") << "\n";
  if (!c.log_file.empty()) o << "log-file=" << c.log_file << "\n";
  flag("no-stdout-log", !c.stdout_log);
  flag("syslog", c.syslog);
  if (c.syslog) o << "syslog-facility=" << c.syslog_facility << "\n";
  if (!c.pidfile.empty()) o << "pidfile=" << c.pidfile << "\n";
  return o.str();
}

}  // namespace turnpike::server::config
