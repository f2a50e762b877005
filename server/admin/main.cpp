// SPDX-License-Identifier: Apache-2.0
// turnpike-admin: users, TURN REST secrets and realm options in Redis, in the layout coturn's
// turnadmin writes (so either tool manages either server):
//   turnpike-admin -N "ip=127.0.0.1 port=6379" -a -u alice -r example.org -p secret
//   turnpike-admin -N ... -d -u alice -r example.org       delete a user
//   turnpike-admin -N ... -l [-r example.org]              list users (SCAN, never KEYS)
//   turnpike-admin -N ... -s SECRET -r example.org         add a REST secret
//   turnpike-admin -N ... -S -r example.org                show the realm's REST secrets
//   turnpike-admin -N ... -X SECRET -r example.org         delete a REST secret
//   turnpike-admin -N ... -O -r example.org --user-quota 2 --total-quota 100 --max-bps 0
//   turnpike-admin -N ... -R -r example.org                show the realm's options
//   turnpike-admin -k -u alice -r example.org -p secret    print the key (no Redis)
// and, over a running server's sessions API (admin-api-key; the key from --api-key or the
// TURNPIKE_ADMIN_API_KEY environment variable):
//   turnpike-admin sessions --api http://127.0.0.1:9641 [--user alice] [--client-ip IP]
//   turnpike-admin kill --api http://127.0.0.1:9641 (--id 0-17 | --user alice | --client-ip IP)
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "auth/redis_client.hpp"
#include "auth/redis_users.hpp"
#include "protocol/long_term_key.hpp"
#include "server/admin/sessions_client.hpp"

namespace {

using turnpike::auth::redis_command;
using turnpike::auth::redis_reply;

// SCAN MATCH pattern text that matches `s` literally.
std::string glob_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

int fail(const std::string& why) {
  std::cerr << "turnpike-admin: " << why << "\n";
  return 1;
}

std::optional<std::string> hex_key(const std::string& user, const std::string& realm,
                                   const std::string& password) {
  // As the server prepares a configured user: SASLprep on realm and password.
  const auto r = turnpike::protocol::opaque_string(realm);
  const auto p = turnpike::protocol::opaque_string(password);
  if (!r || !p) return std::nullopt;
  const auto key = turnpike::protocol::long_term_key_md5(user, *r, *p);
  return turnpike::auth::to_hex(key);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"turnpike-admin: Turnpike (and coturn) users, secrets and realm options in Redis"};
  std::string db, user, realm, password, set_secret, delete_secret;
  bool key = false, add = false, del = false, list = false, show_secret = false;
  bool set_options = false, list_options = false;
  std::optional<unsigned long> user_quota, total_quota, max_bps;
  app.add_option("-N,--redis-userdb", db, "Redis connection string, coturn's form");
  app.add_flag("-k,--key", key, "print the hex key of -u/-r/-p");
  app.add_flag("-a,--add", add, "add or update user -u in realm -r with password -p");
  app.add_flag("-d,--delete", del, "delete user -u in realm -r");
  app.add_flag("-l,--list", list, "list users (of realm -r, or all)");
  app.add_option("-s,--set-secret", set_secret, "add a TURN REST secret to realm -r");
  app.add_flag("-S,--show-secret", show_secret, "list the TURN REST secrets of realm -r");
  app.add_option("-X,--delete-secret", delete_secret, "delete a TURN REST secret of realm -r");
  app.add_flag("-O,--set-realm-option", set_options, "set --user-quota/--total-quota/--max-bps");
  app.add_flag("-R,--list-realm-options", list_options, "show realm -r's options");
  app.add_option("-u,--user", user, "user name");
  app.add_option("-r,--realm", realm, "realm");
  app.add_option("-p,--password", password, "password");
  app.add_option("--user-quota", user_quota, "concurrent allocations per user (0: unlimited)");
  app.add_option("--total-quota", total_quota, "concurrent allocations in the realm");
  app.add_option("--max-bps", max_bps, "bytes per second per allocation");

  turnpike::admin::sessions_request api;
  bool list_json = false;
  auto* sessions = app.add_subcommand("sessions", "list a running server's allocations");
  auto* kill = app.add_subcommand("kill", "end allocations of a running server at once");
  for (auto* sub : {sessions, kill}) {
    sub->add_option("--api", api.api, "the server's metrics listener, http://HOST:PORT")
        ->required();
    sub->add_option("--api-key", api.key, "admin-api-key (default: $TURNPIKE_ADMIN_API_KEY)");
    sub->add_option("--user", api.user, "only this user's");
    sub->add_option("--client-ip", api.client_ip, "only those of clients at this IP");
  }
  sessions->add_flag("--json", list_json, "the server's JSON as it came");
  kill->add_option("--id", api.id, "one session, by the ID sessions lists");
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  if (sessions->parsed() || kill->parsed()) {
    if (api.key.empty()) {
      if (const char* env = std::getenv("TURNPIKE_ADMIN_API_KEY")) api.key = env;
    }
    if (api.key.empty()) return fail("--api-key or TURNPIKE_ADMIN_API_KEY is required");
    api.json = list_json;
    return sessions->parsed() ? turnpike::admin::list_sessions(api, std::cout, std::cerr)
                              : turnpike::admin::kill_sessions(api, std::cout, std::cerr);
  }

  const int commands = int(key) + int(add) + int(del) + int(list) + int(!set_secret.empty()) +
                       int(show_secret) + int(!delete_secret.empty()) + int(set_options) +
                       int(list_options);
  if (commands != 1) return fail("give exactly one of -k -a -d -l -s -S -X -O -R (see --help)");
  const bool needs_user = key || add || del;
  if (needs_user && user.empty()) return fail("-u is required");
  if ((needs_user || !set_secret.empty() || show_secret || !delete_secret.empty() || set_options ||
       list_options) &&
      realm.empty()) {
    return fail("-r is required");
  }
  if ((key || add) && password.empty()) return fail("-p is required");
  if (key) {
    auto k = hex_key(user, realm, password);
    if (!k) return fail("the user name, realm or password is not valid SASLprep input");
    std::cout << "0x" << *k << "\n";
    return 0;
  }
  if (db.empty()) return fail("-N (the Redis connection string) is required");
  turnpike::auth::redis_endpoint where;
  try {
    where = turnpike::auth::parse_redis_endpoint(db);
  } catch (const std::invalid_argument& e) {
    return fail(std::string("-N: ") + e.what());
  }
  turnpike::auth::redis_connection conn;
  if (!conn.connect(where, std::chrono::seconds(5))) {
    return fail("cannot reach Redis at " + where.host + ":" + std::to_string(where.port) + ": " +
                conn.error());
  }
  auto run = [&](std::vector<redis_command> cmds) -> std::optional<std::vector<redis_reply>> {
    auto r = conn.run(cmds);
    if (!r) {
      fail("Redis: " + conn.error());
      return std::nullopt;
    }
    for (const auto& reply : *r) {
      if (reply.type == redis_reply::kind::error) {
        fail("Redis: " + reply.str);
        return std::nullopt;
      }
    }
    return r;
  };

  if (add) {
    auto k = hex_key(user, realm, password);
    if (!k) return fail("the user name, realm or password is not valid SASLprep input");
    return run({{"SET", turnpike::auth::redis_user_key(realm, user), *k}}) ? 0 : 1;
  }
  if (del) return run({{"DEL", turnpike::auth::redis_user_key(realm, user)}}) ? 0 : 1;
  if (!set_secret.empty()) {
    return run({{"SADD", turnpike::auth::redis_secret_key(realm), set_secret}}) ? 0 : 1;
  }
  if (!delete_secret.empty()) {
    return run({{"SREM", turnpike::auth::redis_secret_key(realm), delete_secret}}) ? 0 : 1;
  }
  if (show_secret) {
    auto r = run({{"SMEMBERS", turnpike::auth::redis_secret_key(realm)}});
    if (!r) return 1;
    std::vector<std::string> secrets;
    for (const auto& e : (*r)[0].elements) secrets.push_back(e.str);
    std::sort(secrets.begin(), secrets.end());
    for (const auto& s : secrets) std::cout << s << "\n";
    return 0;
  }
  if (set_options) {
    std::vector<redis_command> cmds;
    auto put = [&](const char* name, const std::optional<unsigned long>& v) {
      if (v) {
        cmds.push_back(
            {"SET", turnpike::auth::redis_realm_option_key(realm, name), std::to_string(*v)});
      }
    };
    put("user-quota", user_quota);
    put("total-quota", total_quota);
    put("max-bps", max_bps);
    if (cmds.empty()) return fail("-O needs --user-quota, --total-quota or --max-bps");
    return run(std::move(cmds)) ? 0 : 1;
  }
  if (list_options) {
    std::vector<redis_command> cmds;
    const std::vector<std::string> names{"user-quota", "total-quota", "max-bps"};
    for (const auto& n : names)
      cmds.push_back({"GET", turnpike::auth::redis_realm_option_key(realm, n)});
    auto r = run(std::move(cmds));
    if (!r) return 1;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if ((*r)[i].type == redis_reply::kind::string)
        std::cout << names[i] << "=" << (*r)[i].str << "\n";
    }
    return 0;
  }
  // -l: SCAN over turn/realm/<realm or *>/user/*/key.
  const std::string pattern =
      "turn/realm/" + (realm.empty() ? std::string("*") : glob_escape(realm)) + "/user/*/key";
  std::vector<std::string> found;
  std::string cursor = "0";
  do {
    auto r = run({{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}});
    if (!r || (*r)[0].elements.size() != 2) return 1;
    cursor = (*r)[0].elements[0].str;
    for (const auto& k : (*r)[0].elements[1].elements) {
      // turn/realm/<realm>/user/<user>/key
      const std::string& name = k.str;
      const auto user_at = name.find("/user/");
      if (user_at == std::string::npos || name.size() < user_at + 6 + 4) continue;
      const std::string r_name = name.substr(11, user_at - 11);
      const std::string u_name = name.substr(user_at + 6, name.size() - 4 - (user_at + 6));
      found.push_back(u_name + "\t" + r_name);
    }
  } while (cursor != "0");
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  for (const auto& f : found) std::cout << f << "\n";
  return 0;
}
