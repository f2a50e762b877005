// SPDX-License-Identifier: Apache-2.0
// turnserver.conf reading: one option per line, "key=value" or "key value" or a bare flag,
// '#' starts a comment line, surrounding double quotes are stripped from values. A line that
// is not an option is kept with its problem, so that every problem of a file is reported.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "server/config/config.hpp"
#include "server/config/options.hpp"

namespace turnpike::server::config {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

std::string unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

}  // namespace

std::vector<setting> parse_config_text(std::string_view text, const std::string& file) {
  std::vector<setting> out;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;

    const auto sep = line.find_first_of("= \t");
    std::string_view key = line.substr(0, sep);
    if (key.starts_with("--")) key.remove_prefix(2);  // tolerate command-line spelling
    setting s{std::string(key), std::nullopt, file, line_no};
    if (sep != std::string_view::npos) {
      // A comment after the value ("user-quota=12  # 4 streams"): whitespace, then '#'. A '#'
      // or ';' inside a value (REST secrets have both) or inside quotes stays.
      std::string_view rest = line.substr(sep);
      bool quoted = false;
      for (std::size_t i = 1; i < rest.size(); ++i) {
        if (rest[i] == '"') quoted = !quoted;
        if (rest[i] == '#' && !quoted && (rest[i - 1] == ' ' || rest[i - 1] == '\t')) {
          const std::string_view comment = rest.substr(i);
          rest = rest.substr(0, i);
          s.note = "the comment after the value is dropped ('" + std::string(comment) + "')";
          break;
        }
      }
      rest = trim(rest);
      if (!rest.empty() && rest.front() == '=') rest = trim(rest.substr(1));
      if (!s.note.empty() && !rest.empty() &&
          rest.find_first_not_of("0123456789") != std::string_view::npos) {
        s.note += "; coturn would have read the whole text, comment included, as the value";
      }
      if (!rest.empty()) s.value = unquote(rest);
    }
    const option_spec* spec = find_option(s.name);
    if (spec == nullptr) {
      s.problem = "unknown option '" + s.name + "'";
      const std::string_view near = nearest_option(s.name);
      if (!near.empty()) s.problem += " (did you mean '" + std::string(near) + "'?)";
    } else if ((spec->kind == option_kind::value || spec->kind == option_kind::list) &&
               (!s.value || s.value->empty())) {
      s.problem = s.name + ": a value is required";
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<setting> read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw config_error(
        path + ": cannot read configuration file: " + std::generic_category().message(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config_text(ss.str(), path);
}

std::vector<std::string> default_config_paths() {
  return {"turnserver.conf", "etc/turnserver.conf", "/etc/turnpike/turnserver.conf",
          "/usr/local/etc/turnpike/turnserver.conf"};
}

std::string embedded_default_text(std::string_view demo_password,
                                  std::string_view signaling_api_key,
                                  std::string_view rest_secret) {
  std::string t =
      "# Turnpike embedded default: loopback only, one demo user. Loopback peers are allowed\n"
      "# so that two local clients can relay to each other; nothing else can reach it.\n"
      "listening-ip=127.0.0.1\n"
      "allow-loopback-peers\n"
      "listening-port=3478\n"
      "realm=turnpike.demo\n"
      "lt-cred-mech\n"
      "fingerprint\n"
      "user=demo:";
  t += demo_password;
  t += "\n"
       "# The signaling service and its demo call page on 127.0.0.1:8088; /ice-servers hands out\n"
       "# TURN REST credentials signed with a secret made for this run.\n"
       "use-auth-secret\n"
       "static-auth-secret=";
  t += rest_secret;
  t += "\n"
       "signaling-port=8088\n"
       "signaling-address=127.0.0.1\n"
       "signaling-api-key=";
  t += signaling_api_key;
  t += "\n";
  return t;
}

}  // namespace turnpike::server::config
