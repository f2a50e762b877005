// SPDX-License-Identifier: Apache-2.0
// sql_connection over SQLite (libsqlite3).
#include <sqlite3.h>

#include "auth/sql_connection.hpp"

namespace turnpike::auth {
namespace {

class sqlite_connection final : public sql_connection {
 public:
  sqlite_connection(std::string path, bool read_only, int busy_ms)
      : path_(std::move(path)), read_only_(read_only), busy_ms_(busy_ms) {}
  ~sqlite_connection() override { close(); }

  sql_kind kind() const noexcept override { return sql_kind::sqlite; }
  bool connected() const noexcept override { return db_ != nullptr; }
  const std::string& error() const noexcept override { return error_; }

  bool connect() override {
    close();
    // The server only reads; turnpike-admin writes, and makes the file when it is missing.
    const int flags =
        (read_only_ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
        SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      error_ = path_ + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "cannot open");
      close();
      return false;
    }
    sqlite3_busy_timeout(db_, busy_ms_);
    // A file that is not a database fails here rather than on the first user's request.
    if (!query("SELECT count(*) FROM sqlite_master", {})) return false;
    return true;
  }

  std::optional<std::vector<sql_row>> query(std::string_view sql,
                                            const std::vector<std::string>& params) override {
    if (db_ == nullptr && !connect()) return std::nullopt;
    // "$1" placeholders: SQLite takes them as named parameters "$1", "$2", ...
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
        SQLITE_OK) {
      return fail();
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const std::string name = "$" + std::to_string(i + 1);
      const int index = sqlite3_bind_parameter_index(stmt, name.c_str());
      if (index == 0) continue;
      sqlite3_bind_text(stmt, index, params[i].data(), static_cast<int>(params[i].size()),
                        SQLITE_TRANSIENT);
    }
    std::vector<sql_row> rows;
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return fail();
      }
      sql_row row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row.emplace_back(std::nullopt);
        } else {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row.emplace_back(
              std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  std::nullopt_t fail() {
    error_ = path_ + ": " + sqlite3_errmsg(db_);
    // Busy or locked: the handle is fine, the next query may succeed.
    const int code = sqlite3_errcode(db_);
    if (code != SQLITE_BUSY && code != SQLITE_LOCKED) close();
    return std::nullopt;
  }
  void close() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  std::string path_;
  bool read_only_;
  int busy_ms_;
  sqlite3* db_ = nullptr;
  std::string error_;
};

}  // namespace

std::unique_ptr<sql_connection> make_sqlite_connection(std::string path, bool read_only,
                                                       int busy_ms) {
  return std::make_unique<sqlite_connection>(std::move(path), read_only, busy_ms);
}

}  // namespace turnpike::auth
