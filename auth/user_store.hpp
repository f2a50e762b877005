// SPDX-License-Identifier: Apache-2.0
// A database that holds long-term users and TURN REST secrets in coturn's layout (Redis,
// SQLite, PostgreSQL): one question, "this user's key and the realm's secrets", answered
// asynchronously on the store's own thread. cached_users.hpp puts a cache in front of any of
// them; the engine never waits on one.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/long_term_key.hpp"

namespace turnpike::auth {

// What a store holds for one (realm, user).
struct stored_user {
  bool found_user = false;
  protocol::md5_key key{};           // with found_user
  std::vector<std::string> secrets;  // the realm's TURN REST secrets (when asked for)
};

class user_store {
 public:
  // nullopt: the store could not answer (down, timed out, queue full).
  using callback = std::function<void(std::optional<stored_user>)>;
  virtual ~user_store() = default;
  // Calls `done` exactly once, on the store's thread or before returning.
  virtual void fetch(std::string_view realm, std::string_view user, bool with_secrets,
                     callback done) = 0;
};

}  // namespace turnpike::auth
