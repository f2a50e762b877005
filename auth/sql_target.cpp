// SPDX-License-Identifier: Apache-2.0
// Naming an SQL database in messages (no connection needed: the configuration uses it).
#include <string>

#include "auth/sql_connection.hpp"

namespace turnpike::auth {

std::string describe_sql_target(sql_kind kind, const std::string& target) {
  if (kind == sql_kind::sqlite) return "SQLite " + target;
  // The conninfo without its password.
  std::string out;
  std::size_t at = 0;
  while (at < target.size()) {
    const auto end = target.find(' ', at);
    std::string word = target.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (word.starts_with("password=")) word = "password=<hidden>";
    if (!word.empty()) out += (out.empty() ? "" : " ") + word;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return "PostgreSQL " + out;
}

}  // namespace turnpike::auth
