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
#include "server/config/values.hpp"

namespace turnpike::server::config {
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
    spec->apply(out.cfg, resolve_host_names(s, resolve, out.notes));
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
  o << "# Effective Turnpike configuration\n";
  for (const option_spec& spec : option_table()) {
    if (spec.show != nullptr) spec.show(c, o);
  }
  return o.str();
}

}  // namespace turnpike::server::config
