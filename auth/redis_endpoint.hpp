// SPDX-License-Identifier: Apache-2.0
// Where a Redis database is, as coturn's redis-userdb / redis-statsdb strings say it: a plain
// value for the configuration, with no connection behind it (redis_client.hpp connects).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace turnpike::auth {

// coturn's form: "ip=127.0.0.1 dbname=0 password=secret port=6379 connect_timeout=30"
// (also host=, db=/database=, user=). hiredis 0.14 has no TLS: none is offered.
struct redis_endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  int db = 0;
  std::string user;
  std::string password;
  std::chrono::seconds connect_timeout{5};
  friend bool operator==(const redis_endpoint&, const redis_endpoint&) = default;
};

// Throws std::invalid_argument naming the bad part.
redis_endpoint parse_redis_endpoint(std::string_view text);

}  // namespace turnpike::auth
