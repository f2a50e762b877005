// SPDX-License-Identifier: Apache-2.0
#include "auth/redis_endpoint.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

namespace turnpike::auth {
namespace {

template <class Int>
Int parse_number(std::string_view key, std::string_view value, Int lo, Int hi) {
  Int v{};
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < lo || v > hi) {
    throw std::invalid_argument(std::string(key) + "='" + std::string(value) +
                                "' is not a number in range");
  }
  return v;
}

}  // namespace

redis_endpoint parse_redis_endpoint(std::string_view text) {
  redis_endpoint e;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    std::size_t end = i;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    const std::string_view part = text.substr(i, end - i);
    i = end;
    const auto eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      throw std::invalid_argument("'" + std::string(part) + "' is not key=value");
    }
    const std::string_view key = part.substr(0, eq);
    const std::string_view value = part.substr(eq + 1);
    if (key == "ip" || key == "host" || key == "addr") {
      if (value.empty()) throw std::invalid_argument("empty host");
      e.host = std::string(value);
    } else if (key == "port") {
      e.port = parse_number<std::uint16_t>(key, value, 1, 65535);
    } else if (key == "db" || key == "dbname" || key == "database") {
      e.db = parse_number<int>(key, value, 0, 1 << 20);
    } else if (key == "user") {
      e.user = std::string(value);
    } else if (key == "password") {
      e.password = std::string(value);
    } else if (key == "connect_timeout") {
      e.connect_timeout = std::chrono::seconds(parse_number<int>(key, value, 1, 3600));
    } else {
      throw std::invalid_argument("unknown key '" + std::string(key) + "'");
    }
  }
  return e;
}

}  // namespace turnpike::auth
