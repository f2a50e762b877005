// SPDX-License-Identifier: Apache-2.0
// One connection to an SQL user database in coturn's schema (Debian's coturn ships it as
// /usr/share/coturn/schema.sql): SQLite (`userdb`) or PostgreSQL (`psql-userdb`). Blocking:
// it is used on a store's own thread (sql_users.hpp) and by turnpike-admin, never on a shard.
// Parameters are always bound, never spliced into the SQL text.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::auth {

enum class sql_kind { sqlite, postgresql };

using sql_row = std::vector<std::optional<std::string>>;  // nullopt: NULL

class sql_connection {
 public:
  virtual ~sql_connection() = default;
  virtual sql_kind kind() const noexcept = 0;
  // (Re)connects; false with error() set when the database cannot be reached.
  virtual bool connect() = 0;
  virtual bool connected() const noexcept = 0;
  // Runs `sql` with `params` bound to $1, $2, ... (written "$n" for both kinds). nullopt with
  // error() set on failure; the connection then counts as broken until connect() again.
  virtual std::optional<std::vector<sql_row>> query(std::string_view sql,
                                                    const std::vector<std::string>& params) = 0;
  virtual const std::string& error() const noexcept = 0;
};

// SQLite: `path` is the database file (coturn's userdb=, Debian's /var/lib/turn/turndb).
// `read_only` for the server; turnpike-admin writes (and creates a missing file). Waits up to
// `busy_ms` for a lock.
std::unique_ptr<sql_connection> make_sqlite_connection(std::string path, bool read_only,
                                                       int busy_ms = 1000);
// PostgreSQL: `conninfo` is libpq's ("host=... dbname=... user=... password=...
// connect_timeout=..."), as coturn's psql-userdb takes it.
std::unique_ptr<sql_connection> make_postgres_connection(const std::string& conninfo);

// What a database option names, for messages: the file, or the conninfo without password.
std::string describe_sql_target(sql_kind kind, const std::string& target);

}  // namespace turnpike::auth
