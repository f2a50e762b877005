// SPDX-License-Identifier: Apache-2.0
// What turnpike-admin changes in a user database, whichever kind it is: Redis (-N) in
// coturn's key layout, SQLite (-b) or PostgreSQL (-e) in coturn's schema. Each call is one
// blocking request; false / nullopt with error() set when the database refused or is gone.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/redis_client.hpp"
#include "auth/sql_connection.hpp"

namespace turnpike::admin {

class user_db {
 public:
  using pairs = std::vector<std::pair<std::string, std::string>>;
  virtual ~user_db() = default;
  // `hex_key`: hex MD5(user:realm:password), as coturn stores it.
  virtual bool add_user(const std::string& realm, const std::string& user,
                        const std::string& hex_key) = 0;
  virtual bool delete_user(const std::string& realm, const std::string& user) = 0;
  // (user, realm), sorted; every realm when `realm` is empty.
  virtual std::optional<pairs> users(const std::string& realm) = 0;
  virtual bool add_secret(const std::string& realm, const std::string& secret) = 0;
  virtual bool delete_secret(const std::string& realm, const std::string& secret) = 0;
  virtual std::optional<std::vector<std::string>> secrets(const std::string& realm) = 0;
  // user-quota, total-quota, max-bps.
  virtual bool set_option(const std::string& realm, const std::string& name,
                          const std::string& value) = 0;
  virtual std::optional<pairs> options(const std::string& realm) = 0;
  virtual const std::string& error() const = 0;
};

// nullopt-like failure: nullptr with `error` set.
std::unique_ptr<user_db> open_redis_user_db(const auth::redis_endpoint& where, std::string& error);
// SQLite files are created with coturn's tables when missing (as turnadmin -b does).
std::unique_ptr<user_db> open_sql_user_db(auth::sql_kind kind, const std::string& target,
                                          std::string& error);

}  // namespace turnpike::admin
