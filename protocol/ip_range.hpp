// SPDX-License-Identifier: Apache-2.0
// IP address ranges as configuration writes them: a single address, coturn's "first-last"
// form, or CIDR "prefix/length". Used for peer allow/deny lists.
#pragma once

#include <optional>
#include <string_view>

#include "protocol/types.hpp"

namespace turnpike::protocol {

struct ip_range {
  transport_address first;  // ports unused; same family as last
  transport_address last;
  bool contains(const transport_address& ip) const noexcept;
  friend bool operator==(const ip_range&, const ip_range&) = default;
};

// Compares the IP bytes of two addresses of one family (memcmp order).
int compare_ip(const transport_address& a, const transport_address& b) noexcept;
// The range prefix/len; nullopt when len exceeds the family's bits.
std::optional<ip_range> cidr(transport_address base, unsigned len) noexcept;
// "1.2.3.4", "1.2.3.4-1.2.3.9" or "10.0.0.0/8", "fe80::/10".
std::optional<ip_range> parse_ip_range(std::string_view text);

}  // namespace turnpike::protocol
