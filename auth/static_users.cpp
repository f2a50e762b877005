// SPDX-License-Identifier: Apache-2.0
// Static users: keys computed at start-up (RFC 8489 sections 9.2.2 and 18.5.1).
#include "auth/static_users.hpp"

#include <stdexcept>

namespace turnpike::auth {

static_users::static_users(const std::vector<static_user>& users, std::string realm)
    : realm_(std::move(realm)) {
  const auto prepared_realm = protocol::opaque_string(realm_);
  if (!prepared_realm) throw std::invalid_argument("realm has characters SASLprep forbids");
  for (const static_user& u : users) {
    credential c;
    if (u.key) {
      c.md5 = *u.key;
    } else if (u.password) {
      const auto pw = protocol::opaque_string(*u.password);
      if (!pw) throw std::invalid_argument("password of " + u.name + " has forbidden characters");
      c.md5 = protocol::long_term_key_md5(u.name, *prepared_realm, *pw);
      c.sha256 = protocol::long_term_key_sha256(u.name, *prepared_realm, *pw);
    } else {
      throw std::invalid_argument("user " + u.name + " has neither password nor key");
    }
    keys_[u.name] = c;  // a later line for the same name wins, as in coturn
  }
}

void static_users::find_key(std::string_view username, std::string_view realm, std::int64_t,
                            callback done) {
  lookup_result r;
  if (realm == realm_) {
    if (const auto it = keys_.find(std::string(username)); it != keys_.end()) {
      r.status = lookup_status::found;
      r.keys.push_back(it->second);
    }
  }
  done(r);
}

}  // namespace turnpike::auth
