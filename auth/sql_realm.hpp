// SPDX-License-Identifier: Apache-2.0
// A realm's options from an SQL user database in coturn's schema, read again every few
// seconds on a thread (and connection) of its own:
//   turn_realm_option(realm, opt, value)             max-bps, user-quota, total-quota
//   allowed_peer_ip(realm, ip_range)                  added to the configured
//   denied_peer_ip(realm, ip_range)                   allowed-/denied-peer-ip lists
// As with Redis (redis_realm.hpp), `changed` runs after the first successful read and after
// each read that differs; an unreachable database leaves what is in force.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "auth/realm_options.hpp"
#include "auth/sql_connection.hpp"

namespace turnpike::auth {

class sql_realm_watch {
 public:
  using callback = std::function<void(const realm_options&)>;
  sql_realm_watch(std::unique_ptr<sql_connection> connection, std::string realm,
                  std::chrono::seconds every, callback changed);
  ~sql_realm_watch();
  sql_realm_watch(const sql_realm_watch&) = delete;
  sql_realm_watch& operator=(const sql_realm_watch&) = delete;

 private:
  void loop();
  std::optional<realm_options> read();

  std::unique_ptr<sql_connection> connection_;
  std::string realm_;
  std::chrono::seconds every_;
  callback changed_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::optional<realm_options> last_;
  std::thread thread_;
};

}  // namespace turnpike::auth
