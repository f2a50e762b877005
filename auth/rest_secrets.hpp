// SPDX-License-Identifier: Apache-2.0
// TURN REST API credentials (draft-uberti-behave-turn-rest, as coturn implements them with
// use-auth-secret / static-auth-secret): the username is "expiry" or "expiry<sep>user" with
// expiry in Unix seconds, the password is base64(HMAC-SHA1(secret, username)). Several
// secrets may be configured so they can be rotated: every one yields a candidate key.
#pragma once

#include <string>
#include <vector>

#include "auth/key_source.hpp"

namespace turnpike::auth {

class rest_secrets final : public key_source {
 public:
  rest_secrets(std::vector<std::string> secrets, std::string realm, char separator = ':');

  void find_key(std::string_view username, std::string_view realm, std::int64_t unix_now,
                callback done) override;

  // The password a client is given for `username` under `secret` (also used by tests and by
  // credential-issuing services).
  static std::string password_for(std::string_view secret, std::string_view username);

 private:
  std::vector<std::string> secrets_;
  std::string realm_;
  char separator_;
};

// Asks each source in order and answers with the first that finds the user.
class key_chain final : public key_source {
 public:
  explicit key_chain(std::vector<key_source*> sources) : sources_(std::move(sources)) {}
  void find_key(std::string_view username, std::string_view realm, std::int64_t unix_now,
                callback done) override;

 private:
  void ask(std::size_t index, std::string username, std::string realm, std::int64_t unix_now,
           callback done);
  std::vector<key_source*> sources_;
};

}  // namespace turnpike::auth
