// SPDX-License-Identifier: Apache-2.0
// Users listed in the configuration (coturn's `user=name:password` and `user=name:0xKEY`),
// keys derived once at start-up. Answers synchronously.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/key_source.hpp"

namespace turnpike::auth {

struct static_user {
  std::string name;
  std::optional<std::string> password;
  std::optional<protocol::md5_key> key;  // precomputed MD5 key (for the configured realm)
};

class static_users final : public key_source {
 public:
  // Throws std::invalid_argument when a name or password has characters SASLprep forbids.
  static_users(const std::vector<static_user>& users, std::string realm);

  void find_key(std::string_view username, std::string_view realm, std::int64_t unix_now,
                callback done) override;
  std::size_t size() const noexcept { return keys_.size(); }

 private:
  std::string realm_;
  std::unordered_map<std::string, credential> keys_;
};

}  // namespace turnpike::auth
