// SPDX-License-Identifier: Apache-2.0
// A realm's options as a database holds them (coturn's turn/realm/<realm>/... keys in Redis,
// turn_realm_option and friends in SQL): a plain value the engine and the quota take, with
// no store behind it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/ip_range.hpp"

namespace turnpike::auth {

struct realm_options {
  std::optional<std::uint64_t> max_bps;  // absent: the configured max-bps
  // From SQL's turn_realm_option (Redis's are read by the quota script on every Allocate);
  // absent: the configured user-quota / total-quota.
  std::optional<unsigned> user_quota;
  std::optional<unsigned> total_quota;
  std::vector<protocol::ip_range> allowed;
  std::vector<protocol::ip_range> denied;
  std::vector<std::string> rejected;  // entries that are not numbers / IP ranges
  friend bool operator==(const realm_options&, const realm_options&) = default;
};

// Builds options from what a database holds (any store): values that do not parse go to
// `rejected`; lists are sorted, so equal contents compare equal.
realm_options make_realm_options(const std::optional<std::string>& max_bps,
                                 const std::vector<std::string>& allowed,
                                 const std::vector<std::string>& denied);

}  // namespace turnpike::auth
