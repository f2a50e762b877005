// SPDX-License-Identifier: Apache-2.0
// Long-term users and TURN REST secrets kept in Redis in coturn's layout, so a coturn Redis
// works unchanged:
//   turn/realm/<realm>/user/<user>/key   hex MD5(user:realm:password), as turnadmin writes it
//   turn/realm/<realm>/secret            a set of TURN REST secrets (with use-auth-secret)
// One lookup is one pipelined round trip (GET, and SMEMBERS when secrets are asked for).
#pragma once

#include <string>
#include <string_view>

#include "auth/cached_users.hpp"
#include "auth/redis_client.hpp"
#include "auth/user_store.hpp"

namespace turnpike::auth {

// The key names, shared with the admin tool.
std::string redis_user_key(std::string_view realm, std::string_view user);
std::string redis_secret_key(std::string_view realm);
std::string redis_realm_option_key(std::string_view realm, std::string_view option);

class redis_user_store final : public user_store {
 public:
  explicit redis_user_store(redis_client& client) : client_(client) {}
  // `done` runs on the Redis client thread, or at once when its queue is full.
  void fetch(std::string_view realm, std::string_view user, bool with_secrets,
             callback done) override;

 private:
  redis_client& client_;
};

}  // namespace turnpike::auth
