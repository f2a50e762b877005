// SPDX-License-Identifier: Apache-2.0
// Who may relay: the one interface the engine asks for a user's long-term key (RFC 8489
// section 9.2.2), asynchronously, so a store that waits on the network (Redis) never blocks
// a shard. Implementations: static_users (config `user=` lines) today; TURN REST secrets and
// Redis arrive with their milestones.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "protocol/long_term_key.hpp"

namespace turnpike::auth {

struct credential {
  protocol::md5_key md5{};                     // MD5(username:realm:password)
  std::optional<protocol::sha256_key> sha256;  // only when the password itself is known
};

enum class lookup_status { found, not_found, unavailable };

// Several keys when several may be right: TURN REST secrets during a rotation.
struct lookup_result {
  lookup_status status = lookup_status::not_found;
  std::vector<credential> keys;
};

class key_source {
 public:
  using callback = std::function<void(const lookup_result&)>;
  virtual ~key_source() = default;
  // Calls `done` exactly once, either before returning or later on the caller's executor.
  // `unix_now` (seconds since the epoch) is for time-limited credentials.
  virtual void find_key(std::string_view username, std::string_view realm, std::int64_t unix_now,
                        callback done) = 0;
};

}  // namespace turnpike::auth
