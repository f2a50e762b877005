// SPDX-License-Identifier: Apache-2.0
// The sessions API on the metrics listener, for operators (coturn's telnet `ps`/`pu`/`kill`),
// on only when admin-api-key is set. Every request carries "Authorization: Bearer <key>"
// (checked in constant time); without it: 401 and nothing else.
//   GET    /sessions[?user=NAME][&client_ip=IP]   the allocations, as JSON
//   DELETE /sessions/<id>                          end one ("<shard>-<n>", as listed)
//   DELETE /sessions?user=NAME[&client_ip=IP]     end every allocation that matches
// Ended allocations stop at once (relays closed, quota given back) and the client's next
// request gets 437. The answer is computed without sockets; metrics_server.cpp serves it.
#pragma once

#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/engine/sessions.hpp"

namespace turnpike::server::metrics {

namespace http = boost::beast::http;

// What the API asks of the server (net::server in production, a fake in unit tests).
class sessions_backend {
 public:
  struct row {
    std::size_t shard = 0;
    engine::session_info info;
  };
  virtual ~sessions_backend() = default;
  // `complete` false: a shard did not answer in time and its rows are missing.
  virtual std::vector<row> list(const engine::session_filter& filter, bool& complete) = 0;
  virtual std::size_t end(const engine::session_filter& filter, std::optional<std::size_t> shard,
                          bool& complete) = 0;
};

// True for the paths this API answers (/sessions and /sessions/...).
bool is_sessions_path(std::string_view target);

http::response<http::string_body> answer_sessions(const http::request<http::string_body>& req,
                                                  std::string_view api_key, std::string_view realm,
                                                  sessions_backend& backend);

}  // namespace turnpike::server::metrics
