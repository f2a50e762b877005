// SPDX-License-Identifier: Apache-2.0
// turnpike-admin over SQLite or PostgreSQL, in the schema coturn's turnadmin -b / -e uses.
#include <filesystem>

#include "server/admin/user_db.hpp"

namespace turnpike::admin {
namespace {

// The tables turnpike-admin and the server use, for a new SQLite file (coturn's names and
// column types, so coturn reads the file too).
const char* const sqlite_tables[] = {
    "CREATE TABLE IF NOT EXISTS turnusers_lt (realm varchar(127) default '', name varchar(512), "
    "hmackey char(128), PRIMARY KEY (realm, name))",
    "CREATE TABLE IF NOT EXISTS turn_secret (realm varchar(127) default '', value varchar(256), "
    "PRIMARY KEY (realm, value))",
    "CREATE TABLE IF NOT EXISTS allowed_peer_ip (realm varchar(127) default '', ip_range "
    "varchar(256), PRIMARY KEY (realm, ip_range))",
    "CREATE TABLE IF NOT EXISTS denied_peer_ip (realm varchar(127) default '', ip_range "
    "varchar(256), PRIMARY KEY (realm, ip_range))",
    "CREATE TABLE IF NOT EXISTS turn_realm_option (realm varchar(127) default '', opt "
    "varchar(32), value varchar(128), PRIMARY KEY (realm, opt))",
};

class sql_user_db final : public user_db {
 public:
  explicit sql_user_db(std::unique_ptr<auth::sql_connection> c) : c_(std::move(c)) {}
  bool open(bool create_tables) {
    if (!c_->connect()) {
      error_ = c_->error();
      return false;
    }
    if (create_tables) {
      for (const char* sql : sqlite_tables) {
        if (!exec(sql, {})) return false;
      }
    }
    return true;
  }
  bool add_user(const std::string& realm, const std::string& user,
                const std::string& hex_key) override {
    return exec("DELETE FROM turnusers_lt WHERE realm = $1 AND name = $2", {realm, user}) &&
           exec("INSERT INTO turnusers_lt (realm, name, hmackey) VALUES ($1, $2, $3)",
                {realm, user, hex_key});
  }
  bool delete_user(const std::string& realm, const std::string& user) override {
    return exec("DELETE FROM turnusers_lt WHERE realm = $1 AND name = $2", {realm, user});
  }
  std::optional<pairs> users(const std::string& realm) override {
    const auto rows =
        realm.empty()
            ? query("SELECT name, realm FROM turnusers_lt ORDER BY name, realm", {})
            : query("SELECT name, realm FROM turnusers_lt WHERE realm = $1 ORDER BY name", {realm});
    if (!rows) return std::nullopt;
    pairs out;
    for (const auto& r : *rows) out.emplace_back(r.at(0).value_or(""), r.at(1).value_or(""));
    return out;
  }
  bool add_secret(const std::string& realm, const std::string& secret) override {
    return exec("DELETE FROM turn_secret WHERE realm = $1 AND value = $2", {realm, secret}) &&
           exec("INSERT INTO turn_secret (realm, value) VALUES ($1, $2)", {realm, secret});
  }
  bool delete_secret(const std::string& realm, const std::string& secret) override {
    return exec("DELETE FROM turn_secret WHERE realm = $1 AND value = $2", {realm, secret});
  }
  std::optional<std::vector<std::string>> secrets(const std::string& realm) override {
    const auto rows =
        query("SELECT value FROM turn_secret WHERE realm = $1 ORDER BY value", {realm});
    if (!rows) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& r : *rows) out.push_back(r.at(0).value_or(""));
    return out;
  }
  bool set_option(const std::string& realm, const std::string& name,
                  const std::string& value) override {
    return exec("DELETE FROM turn_realm_option WHERE realm = $1 AND opt = $2", {realm, name}) &&
           exec("INSERT INTO turn_realm_option (realm, opt, value) VALUES ($1, $2, $3)",
                {realm, name, value});
  }
  std::optional<pairs> options(const std::string& realm) override {
    const auto rows =
        query("SELECT opt, value FROM turn_realm_option WHERE realm = $1 ORDER BY opt", {realm});
    if (!rows) return std::nullopt;
    pairs out;
    for (const auto& r : *rows) out.emplace_back(r.at(0).value_or(""), r.at(1).value_or(""));
    return out;
  }
  const std::string& error() const override { return error_; }

 private:
  std::optional<std::vector<auth::sql_row>> query(const std::string& sql,
                                                  const std::vector<std::string>& params) {
    auto rows = c_->query(sql, params);
    if (!rows) error_ = c_->error();
    return rows;
  }
  bool exec(const std::string& sql, const std::vector<std::string>& params) {
    return query(sql, params).has_value();
  }

  std::unique_ptr<auth::sql_connection> c_;
  std::string error_;
};

}  // namespace

std::unique_ptr<user_db> open_sql_user_db(auth::sql_kind kind, const std::string& target,
                                          std::string& error) {
  const bool sqlite = kind == auth::sql_kind::sqlite;
  auto db = std::make_unique<sql_user_db>(sqlite ? auth::make_sqlite_connection(target, false)
                                                 : auth::make_postgres_connection(target));
  if (!db->open(sqlite)) {
    error = db->error();
    return nullptr;
  }
  return db;
}

}  // namespace turnpike::admin
