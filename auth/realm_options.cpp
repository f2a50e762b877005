// SPDX-License-Identifier: Apache-2.0
#include "auth/realm_options.hpp"

#include <algorithm>
#include <charconv>

namespace turnpike::auth {

realm_options make_realm_options(const std::optional<std::string>& max_bps,
                                 const std::vector<std::string>& allowed,
                                 const std::vector<std::string>& denied) {
  realm_options o;
  if (max_bps) {
    std::uint64_t v = 0;
    const auto& s = *max_bps;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) {
      o.max_bps = v;
    } else {
      o.rejected.push_back("max-bps=" + s);
    }
  }
  auto ranges = [&](const std::vector<std::string>& in, std::vector<protocol::ip_range>& out,
                    const char* name) {
    for (const auto& e : in) {
      if (auto range = protocol::parse_ip_range(e)) {
        out.push_back(*range);
      } else {
        o.rejected.push_back(std::string(name) + "=" + e);
      }
    }
  };
  ranges(allowed, o.allowed, "allowed-peer-ip");
  ranges(denied, o.denied, "denied-peer-ip");
  // Sets have no order: sort so equal contents compare equal.
  auto by_text = [](const protocol::ip_range& a, const protocol::ip_range& b) {
    return std::make_pair(a.first.ip, a.last.ip) < std::make_pair(b.first.ip, b.last.ip);
  };
  std::sort(o.allowed.begin(), o.allowed.end(), by_text);
  std::sort(o.denied.begin(), o.denied.end(), by_text);
  std::sort(o.rejected.begin(), o.rejected.end());
  return o;
}

}  // namespace turnpike::auth
