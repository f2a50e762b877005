// SPDX-License-Identifier: Apache-2.0
// IP range parsing and membership.
#include "protocol/ip_range.hpp"

#include <charconv>
#include <cstring>

namespace turnpike::protocol {
namespace {

std::size_t ip_len(address_family f) noexcept {
  return f == address_family::ipv4 ? 4 : 16;
}

}  // namespace

int compare_ip(const transport_address& a, const transport_address& b) noexcept {
  return std::memcmp(a.ip.data(), b.ip.data(), ip_len(a.family));
}

std::optional<ip_range> cidr(transport_address base, unsigned len) noexcept {
  const auto bits = static_cast<unsigned>(ip_len(base.family) * 8);
  if (len > bits) return std::nullopt;
  transport_address first = base, last = base;
  first.port = last.port = 0;
  for (unsigned i = len; i < bits; ++i) {
    const auto byte = i / 8, bit = 7 - i % 8;
    first.ip[byte] = static_cast<std::uint8_t>(first.ip[byte] & ~(1u << bit));
    last.ip[byte] = static_cast<std::uint8_t>(last.ip[byte] | (1u << bit));
  }
  return ip_range{first, last};
}

bool ip_range::contains(const transport_address& ip) const noexcept {
  return ip.family == first.family && compare_ip(first, ip) <= 0 && compare_ip(ip, last) <= 0;
}

std::optional<ip_range> parse_ip_range(std::string_view text) {
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    auto base = transport_address::parse_ip(text.substr(0, slash));
    const auto bits = text.substr(slash + 1);
    unsigned len = 0;
    const auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), len);
    if (!base || bits.empty() || ec != std::errc{} || ptr != bits.data() + bits.size()) {
      return std::nullopt;
    }
    return cidr(*base, len);
  }
  const auto dash = text.find('-');
  auto first = transport_address::parse_ip(text.substr(0, dash));
  if (!first) return std::nullopt;
  first->port = 0;
  if (dash == std::string_view::npos) return ip_range{*first, *first};
  auto last = transport_address::parse_ip(text.substr(dash + 1));
  if (!last || last->family != first->family || compare_ip(*first, *last) > 0) return std::nullopt;
  return ip_range{*first, *last};
}

}  // namespace turnpike::protocol
