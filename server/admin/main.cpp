// SPDX-License-Identifier: Apache-2.0
// turnpike-admin: users, TURN REST secrets and realm options in a user database, as coturn's
// turnadmin writes them (so either tool manages either server): Redis (-N) in coturn's key
// layout, SQLite (-b FILE) or PostgreSQL (-e CONNINFO) in coturn's schema:
//   turnpike-admin -N "ip=127.0.0.1 port=6379" -a -u alice -r example.org -p secret
//   turnpike-admin -b /var/lib/turn/turndb -a -u alice -r example.org -p secret
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

#include "auth/cached_users.hpp"
#include "protocol/long_term_key.hpp"
#include "server/admin/sessions_client.hpp"
#include "server/admin/user_db.hpp"

namespace {

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
  CLI::App app{
      "turnpike-admin: Turnpike (and coturn) users, secrets and realm options in Redis, SQLite "
      "or PostgreSQL"};
  std::string db, sqlite_db, psql_db, user, realm, password, set_secret, delete_secret;
  bool key = false, add = false, del = false, list = false, show_secret = false;
  bool set_options = false, list_options = false;
  std::optional<unsigned long> user_quota, total_quota, max_bps;
  app.add_option("-N,--redis-userdb", db, "Redis connection string, coturn's form");
  app.add_option("-b,--userdb,--db", sqlite_db, "SQLite database file (made when missing)");
  app.add_option("-e,--psql-userdb,--sql-userdb", psql_db, "PostgreSQL libpq conninfo");
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
      // NOLINTNEXTLINE(concurrency-mt-unsafe): the tool has one thread
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
  const int databases = int(!db.empty()) + int(!sqlite_db.empty()) + int(!psql_db.empty());
  if (databases != 1)
    return fail("name one user database: -N (Redis), -b (SQLite) or -e (PostgreSQL)");
  std::string error;
  std::unique_ptr<turnpike::admin::user_db> store;
  if (!db.empty()) {
    turnpike::auth::redis_endpoint where;
    try {
      where = turnpike::auth::parse_redis_endpoint(db);
    } catch (const std::invalid_argument& e) {
      return fail(std::string("-N: ") + e.what());
    }
    store = turnpike::admin::open_redis_user_db(where, error);
  } else if (!sqlite_db.empty()) {
    store = turnpike::admin::open_sql_user_db(turnpike::auth::sql_kind::sqlite, sqlite_db, error);
  } else {
    store = turnpike::admin::open_sql_user_db(turnpike::auth::sql_kind::postgresql, psql_db, error);
  }
  if (!store) return fail(error);
  auto done = [&](bool ok) { return ok ? 0 : fail(store->error()); };

  if (add) {
    auto k = hex_key(user, realm, password);
    if (!k) return fail("the user name, realm or password is not valid SASLprep input");
    return done(store->add_user(realm, user, *k));
  }
  if (del) return done(store->delete_user(realm, user));
  if (!set_secret.empty()) return done(store->add_secret(realm, set_secret));
  if (!delete_secret.empty()) return done(store->delete_secret(realm, delete_secret));
  if (show_secret) {
    const auto secrets = store->secrets(realm);
    if (!secrets) return fail(store->error());
    for (const auto& one : *secrets) std::cout << one << "\n";
    return 0;
  }
  if (set_options) {
    bool any = false;
    for (const auto& [name, v] :
         {std::pair{"user-quota", user_quota}, std::pair{"total-quota", total_quota},
          std::pair{"max-bps", max_bps}}) {
      if (!v) continue;
      any = true;
      if (!store->set_option(realm, name, std::to_string(*v))) return fail(store->error());
    }
    return any ? 0 : fail("-O needs --user-quota, --total-quota or --max-bps");
  }
  if (list_options) {
    const auto options = store->options(realm);
    if (!options) return fail(store->error());
    for (const auto& [name, value] : *options) std::cout << name << "=" << value << "\n";
    return 0;
  }
  const auto users = store->users(realm);
  if (!users) return fail(store->error());
  for (const auto& [name, in_realm] : *users) std::cout << name << "\t" << in_realm << "\n";
  return 0;
}
