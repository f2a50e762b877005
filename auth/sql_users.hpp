// SPDX-License-Identifier: Apache-2.0
// Long-term users and TURN REST secrets in an SQL database in coturn's schema, so the
// database coturn's turnadmin -b (SQLite) or -e (PostgreSQL) wrote works unchanged:
//   turnusers_lt(realm, name, hmackey)   hmackey: hex MD5(name:realm:password)
//   turn_secret(realm, value)            TURN REST secrets (with use-auth-secret)
// Queries run on the store's own thread, one lookup after another, from a bounded queue;
// answers go to cached_users (cache, sharing, stale answers in an outage). A broken
// connection is opened again on the next lookup, at most once a second: in between, lookups
// are answered `unavailable` at once instead of waiting.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "auth/sql_connection.hpp"
#include "auth/user_store.hpp"

namespace turnpike::auth {

struct sql_users_stats {
  std::uint64_t queries = 0;
  std::uint64_t failures = 0;  // lookups answered unavailable (down, error, queue full)
};

class sql_user_store final : public user_store {
 public:
  explicit sql_user_store(std::unique_ptr<sql_connection> connection,
                          std::size_t queue_limit = 4096);
  ~sql_user_store() override;
  sql_user_store(const sql_user_store&) = delete;
  sql_user_store& operator=(const sql_user_store&) = delete;

  // Opens the connection once before the thread starts (start-up): false with `error`.
  bool check(std::string& error);
  void fetch(std::string_view realm, std::string_view user, bool with_secrets,
             callback done) override;
  sql_users_stats stats() const;

 private:
  struct job {
    std::string realm;
    std::string user;
    bool with_secrets = false;
    callback done;
  };
  void loop();
  std::optional<stored_user> run(const job& j);

  std::unique_ptr<sql_connection> connection_;  // used on the thread only (after check)
  std::size_t queue_limit_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> queue_;
  bool stopping_ = false;
  sql_users_stats stats_;
  std::chrono::steady_clock::time_point next_connect_{};
  std::thread thread_;
};

}  // namespace turnpike::auth
