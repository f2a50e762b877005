// SPDX-License-Identifier: Apache-2.0
// sql_connection over PostgreSQL (libpq).
#include <libpq-fe.h>

#include "auth/sql_connection.hpp"

namespace turnpike::auth {
namespace {

class postgres_connection final : public sql_connection {
 public:
  explicit postgres_connection(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~postgres_connection() override { close(); }

  sql_kind kind() const noexcept override { return sql_kind::postgresql; }
  bool connected() const noexcept override {
    return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
  }
  const std::string& error() const noexcept override { return error_; }

  bool connect() override {
    close();
    conn_ = PQconnectdb(conninfo_.c_str());
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      error_ = conn_ != nullptr ? trimmed(PQerrorMessage(conn_)) : "out of memory";
      close();
      return false;
    }
    return true;
  }

  std::optional<std::vector<sql_row>> query(std::string_view sql,
                                            const std::vector<std::string>& params) override {
    if (!connected() && !connect()) return std::nullopt;
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    const std::string text(sql);
    PGresult* res = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0);
    const auto status = PQresultStatus(res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      error_ = trimmed(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
      if (error_.empty()) error_ = trimmed(PQerrorMessage(conn_));
      PQclear(res);
      if (PQstatus(conn_) != CONNECTION_OK) close();
      return std::nullopt;
    }
    std::vector<sql_row> rows;
    for (int r = 0; r < PQntuples(res); ++r) {
      sql_row row;
      for (int c = 0; c < PQnfields(res); ++c) {
        if (PQgetisnull(res, r, c)) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(
              std::string(PQgetvalue(res, r, c), static_cast<std::size_t>(PQgetlength(res, r, c))));
        }
      }
      rows.push_back(std::move(row));
    }
    PQclear(res);
    return rows;
  }

 private:
  static std::string trimmed(const char* message) {
    std::string s = message != nullptr ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  void close() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
  }

  std::string conninfo_;
  PGconn* conn_ = nullptr;
  std::string error_;
};

}  // namespace

std::unique_ptr<sql_connection> make_postgres_connection(const std::string& conninfo) {
  // A bound on connecting, so an unreachable server never holds a thread (or shutdown) for
  // the TCP timeout; a connect_timeout in the conninfo comes later and wins.
  return std::make_unique<postgres_connection>("connect_timeout=5 " + conninfo);
}

}  // namespace turnpike::auth
