// SPDX-License-Identifier: Apache-2.0
// coturn's Redis key names, and one user's lookup as one pipelined round trip.
#include "auth/redis_users.hpp"

namespace turnpike::auth {

std::string redis_user_key(std::string_view realm, std::string_view user) {
  std::string k = "turn/realm/";
  k.append(realm).append("/user/").append(user).append("/key");
  return k;
}

std::string redis_secret_key(std::string_view realm) {
  std::string k = "turn/realm/";
  k.append(realm).append("/secret");
  return k;
}

std::string redis_realm_option_key(std::string_view realm, std::string_view option) {
  std::string k = "turn/realm/";
  k.append(realm).append("/").append(option);
  return k;
}

void redis_user_store::fetch(std::string_view realm, std::string_view user, bool with_secrets,
                             callback done) {
  std::vector<redis_command> commands{{"GET", redis_user_key(realm, user)}};
  if (with_secrets) commands.push_back({"SMEMBERS", redis_secret_key(realm)});
  auto shared = std::make_shared<callback>(std::move(done));
  const bool queued = client_.submit(
      std::move(commands), [shared](std::optional<std::vector<redis_reply>> replies) {
        if (!replies) {
          (*shared)(std::nullopt);
          return;
        }
        stored_user u;
        const redis_reply& key = (*replies)[0];
        if (key.type == redis_reply::kind::string) {
          if (auto parsed = parse_hex_key(key.str)) {
            u.found_user = true;
            u.key = *parsed;
          }
        }
        if (replies->size() > 1 && (*replies)[1].type == redis_reply::kind::array) {
          for (const auto& s : (*replies)[1].elements) {
            if (s.type == redis_reply::kind::string && !s.str.empty()) u.secrets.push_back(s.str);
          }
        }
        (*shared)(std::move(u));
      });
  if (!queued) (*shared)(std::nullopt);
}

}  // namespace turnpike::auth
